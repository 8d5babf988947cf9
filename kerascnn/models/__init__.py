"""One folder per family: builder, variants, weight sets."""
