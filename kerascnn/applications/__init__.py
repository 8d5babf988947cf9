"""Architectures with the keras.applications signature: every registered constructor,
re-exported from its family's folder (``kerascnn/models/<family>/``), and the
preprocessing of their weight sets (:mod:`kerascnn.preprocessing`)."""

from kerascnn.models.alexnet import (
    AlexNet,
    AlexNetCV,
    AlexNetOWT,
    ZFNet,
    ZFNetCV,
)
from kerascnn.models.cifar_resnet import (
    CifarResNet,
    PreActResNet164CIFAR,
    PreActResNet1001CIFAR,
    ResNet20CIFAR_B,
    ResNet56CIFAR_B,
    ResNet110CIFAR_B,
    ResNeXt29_8x64dCIFAR,
    WideResNet28_10CIFAR,
)
from kerascnn.models.densenet import (
    DenseNet121,
    DenseNet121TV,
    DenseNet161,
    DenseNet161TV,
    DenseNet169,
    DenseNet169TV,
    DenseNet201,
    DenseNet201TV,
    DenseNet264,
    DenseNetBC100CIFARCV,
    DenseNetBC190CIFARCV,
    DenseNetCIFAR,
)
from kerascnn.models.googlenet import (
    BNInception,
    BNInceptionCV,
    GoogLeNet,
)
from kerascnn.models.inception_v3 import (
    InceptionV3,
    InceptionV3TV,
)
from kerascnn.models.inception_v4 import (
    InceptionResNetV1,
    InceptionResNetV2,
    InceptionResNetV2Timm,
    InceptionV4,
    InceptionV4Timm,
)
from kerascnn.models.lenet import (
    LeNet5,
)
from kerascnn.models.mobilenet import (
    MobileNet,
)
from kerascnn.models.nin import (
    NiN,
    NiNCIFAR,
    NiNCIFARCV,
)
from kerascnn.models.resnet import (
    ResNet18,
    ResNet34,
    ResNet50,
    ResNet50TV,
    ResNet101,
    ResNet101TV,
    ResNet152,
    ResNet152TV,
    ResNeXt50_32x4d,
    ResNeXt101_32x8d,
    ResNeXt101_64x4d,
    SENet154,
    SEResNet50,
    SEResNet101,
    SEResNet152,
    SEResNeXt50_32x4d,
    WideResNet50_2,
    WideResNet101_2,
)
from kerascnn.models.resnet_v2 import (
    ResNet50V2,
    ResNet101V2,
    ResNet152V2,
    ResNet200V2,
)
from kerascnn.models.shufflenet import (
    ShuffleNet,
    ShuffleNetG1,
    ShuffleNetG2,
    ShuffleNetG3,
    ShuffleNetG4,
    ShuffleNetG8,
)
from kerascnn.models.squeezenet import (
    SqueezeNet1_0,
    SqueezeNet1_1,
)
from kerascnn.models.vgg import (
    VGG11,
    VGG11BN,
    VGG11LRN,
    VGG13,
    VGG13BN,
    VGG16,
    VGG16BN,
    VGG16C,
    VGG16TV,
    VGG19,
    VGG19BN,
    VGG19TV,
)
from kerascnn.models.xception import (
    Xception,
)
from kerascnn.preprocessing import decode_predictions, load_images, preprocess_input

__all__ = ["AlexNet", "AlexNetOWT", "ZFNet", "AlexNetCV", "ZFNetCV", "CifarResNet",
           "PreActResNet164CIFAR", "PreActResNet1001CIFAR", "ResNeXt29_8x64dCIFAR",
           "ResNet20CIFAR_B", "ResNet56CIFAR_B", "ResNet110CIFAR_B", "WideResNet28_10CIFAR",
           "DenseNet121", "DenseNet161", "DenseNet169", "DenseNet201", "DenseNet264",
           "DenseNetCIFAR", "DenseNetBC100CIFARCV", "DenseNetBC190CIFARCV", "DenseNet121TV",
           "DenseNet161TV", "DenseNet169TV", "DenseNet201TV", "BNInceptionCV", "GoogLeNet",
           "BNInception", "InceptionV3", "InceptionV3TV", "InceptionV4", "InceptionResNetV1",
           "InceptionResNetV2", "InceptionV4Timm", "InceptionResNetV2Timm", "LeNet5", "MobileNet",
           "NiNCIFARCV", "NiN", "NiNCIFAR", "ResNet50", "ResNet101", "ResNet152", "ResNet18",
           "ResNet34", "ResNet50TV", "ResNet101TV", "ResNet152TV", "WideResNet50_2",
           "WideResNet101_2", "ResNeXt50_32x4d", "ResNeXt101_32x8d", "ResNeXt101_64x4d",
           "SEResNet50", "SEResNet101", "SEResNet152", "SEResNeXt50_32x4d", "SENet154",
           "ResNet50V2", "ResNet101V2", "ResNet152V2", "ResNet200V2", "ShuffleNet", "ShuffleNetG1",
           "ShuffleNetG2", "ShuffleNetG3", "ShuffleNetG4", "ShuffleNetG8", "SqueezeNet1_0",
           "SqueezeNet1_1", "VGG11", "VGG11LRN", "VGG13", "VGG16C", "VGG16", "VGG19", "VGG11BN",
           "VGG13BN", "VGG16BN", "VGG19BN", "VGG16TV", "VGG19TV", "Xception", "preprocess_input",
           "decode_predictions", "load_images"]
