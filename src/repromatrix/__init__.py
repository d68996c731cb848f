"""repromatrix: does a training run give bit-identical results across CPUs, and if not, why?"""

__version__ = "0.1.0"
