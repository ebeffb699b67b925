"""Built-in plugin: the five persistence rules of :mod:`conveyor.policy`, as the default.

Registered ``trylast``, so any plugin's ``conveyor_resolve_persistence`` runs first and
can replace the rules.

May import: conveyor.markers, conveyor.policy.
"""

from __future__ import annotations

from conveyor.markers import hookimpl
from conveyor.policy import PersistenceDecision, PersistenceOptions, builtin_rules


@hookimpl(trylast=True)
def conveyor_resolve_persistence(options: PersistenceOptions) -> PersistenceDecision:
    return builtin_rules(options)
