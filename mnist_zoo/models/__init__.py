"""The models: each family's builder and the kernels it runs on; transfer learning's frozen base."""
