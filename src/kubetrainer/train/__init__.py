"""Fine-tuning: dataset formats, the cluster-derived dataset builder, the engine, distributed launch, export."""
