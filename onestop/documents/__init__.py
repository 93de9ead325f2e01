"""PDF forms of the one-stop desk (Circular 03/2025/TT-VPCP): input data, templates, renderer."""
