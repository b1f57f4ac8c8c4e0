using System.Diagnostics;
using Prometheus;

namespace FaceNet.Service;

/// <summary>
/// The service's own Prometheus metrics, in a registry of its own (two services in one process, as in
/// tests, do not mix their counts). HTTP request counts and latency histograms come from prometheus-net's
/// middleware into the same registry.
/// </summary>
public sealed class ServiceMetrics
{
    public ServiceMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        FacesEmbedded = f.CreateCounter("facenet_faces_embedded_total", "Faces embedded");
        RejectedRequests = f.CreateCounter("facenet_requests_rejected_total",
            "Requests refused before any work: busy (queue full), rate (key over its rate), timeout", new CounterConfiguration { LabelNames = ["reason"] });
        QueueDepth = f.CreateGauge("facenet_inference_queue_depth", "Requests in the inference pipeline now, working or waiting");
        BatchFaces = f.CreateHistogram("facenet_embed_batch_faces", "Faces per ONNX Runtime call",
            new HistogramConfiguration { Buckets = [1, 2, 4, 8, 16, 32, 64] });
        StageSeconds = f.CreateHistogram("facenet_stage_seconds",
            "Time in each stage: decode, detect, align (per request), queue (per face, waiting for a batch), embed (per batch)",
            new HistogramConfiguration { LabelNames = ["stage"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        LivenessRefused = f.CreateCounter("facenet_liveness_refused_total", "Requests refused because a face they use is not live (or cannot be judged)");
        GalleryFaces = f.CreateGauge("facenet_gallery_faces", "Faces that identification searches");
        GallerySubjects = f.CreateGauge("facenet_gallery_subjects", "Subjects in the gallery");
        GallerySequence = f.CreateGauge("facenet_gallery_change_sequence", "The last change of the gallery store this replica has applied");
    }

    public CollectorRegistry Registry { get; }
    public Counter FacesEmbedded { get; }
    public Counter LivenessRefused { get; }
    public Counter RejectedRequests { get; }
    public Gauge QueueDepth { get; }
    public Histogram BatchFaces { get; }
    public Histogram StageSeconds { get; }
    public Gauge GalleryFaces { get; }
    public Gauge GallerySubjects { get; }
    public Gauge GallerySequence { get; }

    public void Rejected(string reason) => RejectedRequests.WithLabels(reason).Inc();

    /// <summary>Observes the stopwatch's time under <paramref name="stage"/> and restarts it.</summary>
    public void Stage(string stage, Stopwatch sw)
    {
        StageSeconds.WithLabels(stage).Observe(sw.Elapsed.TotalSeconds);
        sw.Restart();
    }
}
