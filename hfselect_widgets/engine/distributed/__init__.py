"""Work that outgrows one process, on Ray: building ESM collections and sharded scoring.

* :mod:`.manifest`: collection manifests (YAML or CSV) with typed errors;
* :mod:`.build`: :func:`~.build.build_collection`, one Ray task per dataset, resumable;
* :mod:`.sharded`: :func:`~.sharded.score_embeddings_ray`, the ESM list sharded over Ray
  workers with the target embeddings in the object store once.

Ray is an optional dependency (``pip install 'hfselect-widgets[ray]'``); it is imported only
when a build or a sharded ranking starts.
"""
