using Microsoft.ML.OnnxRuntime;

namespace FaceNet.Embedding;

/// <summary>The ONNX Runtime session settings every network of the project runs with.</summary>
internal static class OrtOptions
{
    /// <param name="threads">Intra-op threads; 0 lets ONNX Runtime choose (one per physical core).</param>
    public static SessionOptions Create(int threads)
    {
        var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        if (threads > 0) so.IntraOpNumThreads = threads;
        return so;
    }
}
