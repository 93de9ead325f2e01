"""Dossiers (hồ sơ): submission, reception, processing, result; the clock ledger and the trail."""
