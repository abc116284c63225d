"""diffinv: conditional score-based diffusion models for physics-based inverse problems.

The mathematics is stated in docs/math.md; modules cite its sections (``docs/math.md §n``).
"""

__version__ = "0.1.0"
