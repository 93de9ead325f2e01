"""Public status lookup of a dossier by its QR token or by its code and check code."""
