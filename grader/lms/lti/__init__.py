"""LTI 1.3 and LTI Advantage, tool side (pylti1p3next): keys, registrations, launches."""
