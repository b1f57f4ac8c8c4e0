using FaceNet.Evaluation;

namespace FaceNet.Tests.Liveness;

/// <summary>APCER, BPCER, ACER and the thresholds for a target rate, on a label set small enough to count by hand.</summary>
public class LivenessRatesTests
{
    // 10 live faces: 8 judged (scores below), 1 unjudged, 1 photo without a face; 5 attacks: 4 judged, 1 unjudged
    private static readonly IReadOnlyList<LivenessSample> Samples =
    [
        new("l1", false, 0.95, null), new("l2", false, 0.90, null), new("l3", false, 0.85, null), new("l4", false, 0.80, null),
        new("l5", false, 0.70, null), new("l6", false, 0.60, null), new("l7", false, 0.40, null), new("l8", false, 0.10, null),
        new("l9", false, 0.99, "face too small"), new("l10", false, null, null),
        new("a1", true, 0.75, null), new("a2", true, 0.55, null), new("a3", true, 0.30, null), new("a4", true, 0.05, null),
        new("a5", true, 0.90, "face too blurred"),
    ];

    [Fact]
    public void Rates_at_a_threshold_count_unjudged_faces_as_refused_and_leave_faceless_photos_out()
    {
        var r = LivenessEvaluation.At(Samples, 0.5);
        Assert.Equal(9, r.BonaFide);           // l10 has no face: left out
        Assert.Equal(5, r.Attacks);
        Assert.Equal(2, r.AttacksAccepted);    // a1 0.75, a2 0.55; a5 is not judged: stopped
        Assert.Equal(3, r.BonaFideRefused);    // l7 0.40, l8 0.10, and l9 not judged
        Assert.Equal(1, r.BonaFideUnjudged);
        Assert.Equal(1, r.AttacksUnjudged);
        Assert.Equal(2 / 5.0, r.Apcer, 12);
        Assert.Equal(3 / 9.0, r.Bpcer, 12);
        Assert.Equal((2 / 5.0 + 3 / 9.0) / 2, r.Acer, 12);
        Assert.Equal(1 - 5 / 14.0, r.Accuracy, 12);
        Assert.Equal(1, LivenessEvaluation.Report(Samples, 0.5).NoFaceLive);
    }

    [Fact]
    public void A_score_equal_to_the_threshold_is_live()
    {
        var r = LivenessEvaluation.At(Samples, 0.55);
        Assert.Equal(2, r.AttacksAccepted); // a2 at exactly 0.55 passes
    }

    [Fact]
    public void Threshold_for_a_target_apcer_stops_enough_attacks_and_no_more_live_faces_than_needed()
    {
        // APCER 20 % of 5 attacks: one may pass; the second highest judged attack (0.55) must be stopped
        var r = LivenessEvaluation.AtApcer(Samples, 0.20)!;
        Assert.Equal(0.550001, r.Threshold, 9);
        Assert.Equal(1, r.AttacksAccepted);
        Assert.Equal(3, r.BonaFideRefused); // l7, l8, l9 as at 0.5: 0.60 still passes
        // APCER 5 %: none may pass, the threshold goes above the highest judged attack (0.75)
        var strict = LivenessEvaluation.AtApcer(Samples, 0.05)!;
        Assert.Equal(0.750001, strict.Threshold, 9);
        Assert.Equal(0, strict.AttacksAccepted);
        Assert.Equal(5, strict.BonaFideRefused); // l5 0.70, l6, l7, l8 below it, and l9 not judged
    }

    [Fact]
    public void Threshold_for_a_target_bpcer_counts_the_unjudged_live_face_first()
    {
        // BPCER 1/3 of 9 live faces: 3 may be refused; l9 (not judged) is one, so two judged ones: l8, l7 → threshold at l6 (0.60)
        var r = LivenessEvaluation.AtBpcer(Samples, 1 / 3.0)!;
        Assert.Equal(0.6, r.Threshold, 9);
        Assert.Equal(3, r.BonaFideRefused);
        Assert.Equal(1, r.AttacksAccepted); // a1 0.75 passes, a2 0.55 no longer
        // a target below the unjudged share cannot be met
        Assert.Null(LivenessEvaluation.AtBpcer(Samples, 0.1));
    }

    [Fact]
    public void The_det_curve_runs_from_accepting_every_judged_face_to_refusing_all()
    {
        var curve = LivenessEvaluation.Curve(Samples);
        Assert.Equal(0, curve[0].Threshold);
        Assert.Equal(4 / 5.0, curve[0].Apcer, 12);   // every judged attack accepted
        Assert.Equal(1 / 9.0, curve[0].Bpcer, 12);   // only the unjudged live face refused
        Assert.Equal(0, curve[^1].Apcer);
        Assert.Equal(1, curve[^1].Bpcer);
        for (int i = 1; i < curve.Count; i++)
        {
            Assert.True(curve[i].Apcer <= curve[i - 1].Apcer);
            Assert.True(curve[i].Bpcer >= curve[i - 1].Bpcer);
        }
    }
}
