"""Compiled numba kernels. Modules here import only numpy, numba and math."""
