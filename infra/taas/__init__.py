"""Neutron tap-as-a-service (TaaS) as Pulumi resources, through a dynamic provider.

pulumi-openstack has no TaaS resources; :mod:`infra.taas.resources` declares tap services
(a sensor's mirror port receiving copies) and tap flows (a monitored port copied to one),
and :mod:`infra.taas.provider` creates them with the Neutron API (:mod:`infra.taas.client`).
"""
