using System.ComponentModel;
using Microsoft.AspNetCore.Mvc;

namespace FaceNet.Service;

// The query options of the endpoints, bound by name ([AsParameters]) so that the OpenAPI document lists them. They are
// bound as text and read by the handlers (after the key check): a bad value is a 400 problem that says what is expected.

internal sealed class VerifyQuery
{
    [FromQuery(Name = "pick"), Description("main (default): each photo's subject is compared; best: the closest pair of any of their faces")]
    public string? Pick { get; init; }

    [FromQuery(Name = "liveness"), Description("true: a compared face that is not live is refused (422, type /problems/presentation-attack)")]
    public string? Liveness { get; init; }

    [FromQuery(Name = "liveness_unjudged"), Description("refuse (default) or allow: what liveness=true does with a face too small or blurred to judge")]
    public string? LivenessUnjudged { get; init; }
}

internal sealed class IdentifyQuery
{
    [FromQuery(Name = "top"), Description("Candidates per face, 1 to 100 (default 3)")]
    public string? Top { get; init; }

    [FromQuery(Name = "fpir"), Description("The share of strangers' searches that may get a name, between 0 and 1 (default 0.01): it chooses the threshold")]
    public string? Fpir { get; init; }

    [FromQuery(Name = "liveness"), Description("true: a face the answer would name that is not live is refused (422)")]
    public string? Liveness { get; init; }

    [FromQuery(Name = "liveness_unjudged"), Description("refuse (default) or allow: what liveness=true does with a face too small or blurred to judge")]
    public string? LivenessUnjudged { get; init; }
}

internal sealed class EnrollQuery
{
    [FromQuery(Name = "force"), Description("true: enrol a face below the quality floor (else 422)")]
    public string? Force { get; init; }

    [FromQuery(Name = "allow_duplicate"), Description("true: enrol a face the gallery identifies as another subject (else 409)")]
    public string? AllowDuplicate { get; init; }

    [FromQuery(Name = "liveness"), Description("true: a face that is not live is refused (422), before anything is stored")]
    public string? Liveness { get; init; }

    [FromQuery(Name = "liveness_unjudged"), Description("refuse (default) or allow: what liveness=true does with a face too small or blurred to judge")]
    public string? LivenessUnjudged { get; init; }
}
