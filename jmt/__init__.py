"""jmt: the Joint Many-Task model (Hashimoto et al. 2017) as a library and a command line."""
__version__ = "0.1.0"
