"""Architectures with the keras.applications signature, one module per family.

Importing a family module registers its variants in :mod:`kerascnn.registry`.
"""

from kerascnn.applications.resnet import ResNet50, ResNet101, ResNet152

__all__ = ["ResNet50", "ResNet101", "ResNet152"]
from kerascnn.applications.alexnet import AlexNet, AlexNetCV, AlexNetOWT, ZFNet, ZFNetCV  # noqa: E402
from kerascnn.applications.googlenet import BNInception, BNInceptionCV, GoogLeNet  # noqa: E402
from kerascnn.applications.inception_v3 import InceptionV3  # noqa: E402
from kerascnn.applications.inception_v4 import (  # noqa: E402
    InceptionResNetV1,
    InceptionResNetV2,
    InceptionV4,
)
from kerascnn.applications.lenet import LeNet5  # noqa: E402
from kerascnn.applications.nin import NiN, NiNCIFAR, NiNCIFARCV  # noqa: E402
from kerascnn.applications.vgg import (  # noqa: E402
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
from kerascnn.applications.xception import Xception  # noqa: E402

__all__ += ["LeNet5", "AlexNet", "AlexNetOWT", "ZFNet", "AlexNetCV", "ZFNetCV", "NiNCIFARCV",
            "BNInceptionCV", "VGG11", "VGG11LRN", "VGG13", "VGG16C",
            "VGG16", "VGG19", "VGG11BN", "VGG13BN", "VGG16BN", "VGG19BN", "VGG16TV", "VGG19TV",
            "NiN", "NiNCIFAR", "GoogLeNet", "BNInception", "InceptionV3", "InceptionV4",
            "InceptionResNetV1",
            "InceptionResNetV2", "Xception"]
from kerascnn.applications.densenet import (  # noqa: E402
    DenseNet121,
    DenseNet161,
    DenseNet169,
    DenseNet201,
    DenseNet264,
    DenseNetBC100CIFARCV,
    DenseNetBC190CIFARCV,
    DenseNetCIFAR,
)

__all__ += ["DenseNet121", "DenseNet161", "DenseNet169", "DenseNet201", "DenseNet264",
            "DenseNetCIFAR", "DenseNetBC100CIFARCV", "DenseNetBC190CIFARCV"]
# torchvision's and timm's layouts of the weights they publish (issue 14)
from kerascnn.applications.densenet import (  # noqa: E402
    DenseNet121TV,
    DenseNet161TV,
    DenseNet169TV,
    DenseNet201TV,
)
from kerascnn.applications.inception_v3 import InceptionV3TV  # noqa: E402
from kerascnn.applications.inception_v4 import InceptionResNetV2Timm, InceptionV4Timm  # noqa: E402

__all__ += ["DenseNet121TV", "DenseNet161TV", "DenseNet169TV", "DenseNet201TV", "InceptionV3TV",
            "InceptionV4Timm", "InceptionResNetV2Timm"]
from kerascnn.applications.mobilenet import MobileNet  # noqa: E402
from kerascnn.applications.shufflenet import (  # noqa: E402
    ShuffleNet,
    ShuffleNetG1,
    ShuffleNetG2,
    ShuffleNetG3,
    ShuffleNetG4,
    ShuffleNetG8,
)
from kerascnn.applications.squeezenet import SqueezeNet1_0, SqueezeNet1_1  # noqa: E402

__all__ += ["MobileNet", "ShuffleNet", "ShuffleNetG1", "ShuffleNetG2", "ShuffleNetG3",
            "ShuffleNetG4", "ShuffleNetG8", "SqueezeNet1_0", "SqueezeNet1_1"]

from kerascnn.applications.cifar_resnet import (  # noqa: E402
    CifarResNet,
    PreActResNet164CIFAR,
    PreActResNet1001CIFAR,
    ResNet20CIFAR_B,
    ResNet56CIFAR_B,
    ResNet110CIFAR_B,
    ResNeXt29_8x64dCIFAR,
    WideResNet28_10CIFAR,
)
from kerascnn.applications.resnet import (  # noqa: E402
    ResNet18,
    ResNet34,
    ResNet50TV,
    ResNet101TV,
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
from kerascnn.applications.resnet_v2 import (  # noqa: E402
    ResNet50V2,
    ResNet101V2,
    ResNet152V2,
    ResNet200V2,
)

__all__ += ["ResNet18", "ResNet34", "ResNet50TV", "ResNet101TV", "ResNet152TV",
            "WideResNet50_2", "WideResNet101_2", "ResNeXt50_32x4d", "ResNeXt101_32x8d", "ResNeXt101_64x4d", "SEResNet50", "SEResNet101", "SEResNet152",
            "SEResNeXt50_32x4d", "SENet154", "ResNet50V2", "ResNet101V2", "ResNet152V2",
            "ResNet200V2", "CifarResNet", "PreActResNet164CIFAR", "PreActResNet1001CIFAR",
            "ResNeXt29_8x64dCIFAR", "ResNet20CIFAR_B", "ResNet56CIFAR_B", "ResNet110CIFAR_B",
            "WideResNet28_10CIFAR"]
from kerascnn.preprocessing import (  # noqa: E402
    decode_predictions,
    preprocess_input,
)

__all__ += ["preprocess_input", "decode_predictions"]
