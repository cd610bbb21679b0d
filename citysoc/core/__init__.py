"""The shared core: settings, errors, logging, ECS helpers and the topology model.

Every other package of citysoc imports this one; it imports none of them.
"""
