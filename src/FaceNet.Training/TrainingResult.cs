namespace FaceNet.Training;

public sealed record TrainingResult(EmbeddingHead Head, IReadOnlyList<EpochRecord> History, int BestEpoch, ValidationFigures Base, ValidationFigures Best);
