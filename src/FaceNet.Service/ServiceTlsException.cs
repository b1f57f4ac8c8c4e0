using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Scalar.AspNetCore;

namespace FaceNet.Service;

/// <summary>The certificate or key for HTTPS cannot be used: the message names the file.</summary>
public sealed class ServiceTlsException(string file, string reason) : FaceNetException(file, reason, kind: FaceNetErrorKind.Invalid);
