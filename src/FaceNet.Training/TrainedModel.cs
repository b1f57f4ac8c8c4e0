namespace FaceNet.Training;

/// <summary>What <see cref="HeadTraining.Train"/> wrote and measured.</summary>
public sealed record TrainedModel(string Output, TrainingResult Result, double Threshold, int TrainPeople, int TrainFaces,
    int ValidationPeople, int ValidationFaces);
