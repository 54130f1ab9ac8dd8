"""Plumbing shared by the estimators: input validation, the private
scikit-learn API in use, torch and skorch helpers, the tight training loop.

Each helper lives here once; the estimators' subpackages import from these
modules and never from each other's private code.
"""
