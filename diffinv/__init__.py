"""diffinv: conditional score-based diffusion models for physics-based inverse problems.

The mathematics is stated in the project's MATH.md; modules cite its sections (``MATH §n``).
"""

__version__ = "0.1.0"
