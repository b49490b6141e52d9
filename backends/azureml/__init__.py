"""The Azure Machine Learning backend: one workspace per configured backend, read through azure-ai-ml's MLClient
(ARM: jobs, schedules, the workspace) and the workspace's own services (run history, the v1 pipelines service,
log blobs), all with one azure-identity credential. ``engine.AzureMLBackend`` puts it behind the contract."""
