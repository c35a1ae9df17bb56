"""Warp (NVIDIA) implementation of the MLS-MPM kernels, CPU and CUDA."""
