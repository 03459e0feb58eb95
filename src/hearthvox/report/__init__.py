"""The inference readiness report (``hearthvox report``, docs/report.md).

- :mod:`.target`: which bundle; :mod:`.probe` (a fresh process): cold start, memory;
- :mod:`.measure`: warm latency, CPU per audio second, the bench's baselines;
- :mod:`.contract`, :mod:`.quality`, :mod:`.capacity`, :mod:`.operations`: the sections;
- :mod:`.build`: measure -> ``samples.json`` -> :func:`~.build.assemble` -> figures;
- :mod:`.sections`, :mod:`.render`, :mod:`.plots`: Markdown and one self-contained HTML.
"""
