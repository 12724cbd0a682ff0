"""JIFD: domain-generalizable vehicle ReID with image- and feature-level disentanglement."""
import vreid  # noqa: F401  (fast-reid compat first)
