"""The Pulumi program that lays out the city on OpenStack, generated from the topology model.

Imports nothing of the application except :mod:`citysoc.core`.
"""
