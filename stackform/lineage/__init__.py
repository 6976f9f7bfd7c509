"""Column-level lineage of a whole stack (docs/lineage.md).

:mod:`~stackform.lineage.model` is the data (nodes, edges, fragments, the joined graph);
:mod:`~stackform.lineage.join` asks providers with :class:`~stackform.provider.ProvidesLineage`
for their fragments and joins them; :mod:`~stackform.lineage.record` records them at apply;
:mod:`~stackform.lineage.planned` and :mod:`~stackform.lineage.impact` say at plan what a change
breaks downstream; :mod:`~stackform.lineage.query` (with :mod:`~stackform.lineage.selection`
and :mod:`~stackform.lineage.html`) is ``stackform lineage``. Core knows no provider's
specifics: a provider names its nodes' types.
"""
