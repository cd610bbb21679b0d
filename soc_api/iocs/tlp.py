"""Who may see an indicator, by its Traffic Light Protocol (2.0) label.

- CLEAR, GREEN: every analyst of the city's community.
- AMBER: the owner agency, the agencies it was shared with (``audience``) and the city SOC.
- AMBER+STRICT: the owner agency and the city SOC only.
- RED: the owner only (the owner agency's analysts; the city SOC's own RED stays city-wide).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, false, or_

from soc_api.auth.models import Principal
from soc_api.iocs.models import Ioc, Tlp


def agency_may_see(tlp: Tlp, owner: str | None, audience: Sequence[str], agency: str) -> bool:
    """May analysts of ``agency`` see an indicator (and alerts it raises in their agency)?"""
    if tlp in (Tlp.CLEAR, Tlp.GREEN):
        return True
    if agency == owner:
        return True
    return tlp is Tlp.AMBER and agency in audience


def visible_filter(who: Principal) -> ColumnElement[bool]:
    """SQL condition on :class:`Ioc` rows this caller may see."""
    open_labels = Ioc.tlp.in_([Tlp.CLEAR.value, Tlp.GREEN.value])
    if who.city_wide:
        # The city SOC sees everything but an agency's RED.
        return or_(Ioc.tlp != Tlp.RED.value, Ioc.owner_agency.is_(None))
    if not who.agency:
        return false()
    own = Ioc.owner_agency == who.agency
    shared = and_(Ioc.tlp == Tlp.AMBER.value, Ioc.audience.contains(f",{who.agency},"))
    return or_(open_labels, own, shared)
