using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Scalar.AspNetCore;

namespace FaceNet.Service;

/// <summary>The service cannot listen where it was asked to (address in use, not permitted, not an address).</summary>
public sealed class ServiceAddressException(string urls, string reason, Exception? inner = null)
    : FaceNetException(urls, reason, inner, kind: FaceNetErrorKind.Unavailable);
