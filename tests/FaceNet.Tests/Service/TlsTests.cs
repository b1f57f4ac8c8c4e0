using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FaceNet.Tests.Service;

/// <summary>HTTPS with a certificate the test makes: the handshake (TLS 1.2+, that certificate), HSTS on HTTPS answers, bad files named.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly TempFolder _temp = new("facenet-tls-");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private (string Cert, string Key, X509Certificate2 Made) SelfSigned()
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest("CN=facenet-test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        req.CertificateExtensions.Add(san.Build());
        var made = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var cert = Path.Combine(_dir, "cert.pem");
        var key = Path.Combine(_dir, "key.pem");
        File.WriteAllText(cert, made.ExportCertificatePem());
        File.WriteAllText(key, rsa.ExportPkcs8PrivateKeyPem());
        return (cert, key, made);
    }

    [Fact]
    public async Task The_service_speaks_tls_with_the_given_certificate_and_sends_hsts()
    {
        var (cert, key, made) = SelfSigned();
        await using var s = await RunningService.StartAsync(o => o with { Urls = "https://127.0.0.1:0", HttpsCertificateFile = cert, HttpsKeyFile = key },
            gallery: null, keys: ("k", "verify", 1000));
        Assert.StartsWith("https://", s.Host.Address);
        X509Certificate2? seen = null;
        SslProtocols protocol = SslProtocols.None;
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, c, _, _) =>
        {
            seen = c is null ? null : new X509Certificate2(c);
            return seen?.Thumbprint == made.Thumbprint; // trust exactly the certificate made here
        };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(s.Host.Address) };
        var res = await http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Equal(made.Thumbprint, seen?.Thumbprint);
        Assert.Contains("max-age=31536000", res.Headers.GetValues("Strict-Transport-Security").Single());

        // the handshake itself, with TLS 1.2 and 1.3 only
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            var uri = new Uri(s.Host.Address);
            await tcp.ConnectAsync(uri.Host, uri.Port);
            using var ssl = new SslStream(tcp.GetStream(), false, (_, c, _, _) => c is not null && new X509Certificate2(c).Thumbprint == made.Thumbprint);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1" });
            protocol = ssl.SslProtocol;
        }
        Assert.True(protocol is SslProtocols.Tls12 or SslProtocols.Tls13, protocol.ToString());

        // an API call over it
        using var req = new HttpRequestMessage(HttpMethod.Post, "/v1/detect") { Content = RunningService.Form(("image", RunningService.Sample("person_b.jpg"))) };
        req.Headers.Add("X-API-Key", s.Keys["k"]);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(req)).StatusCode);
    }

    [Fact]
    public async Task Plain_http_carries_no_hsts_and_bad_certificate_files_are_named()
    {
        await using (var s = await RunningService.StartAsync(gallery: null))
        {
            var res = await s.Http.GetAsync("/healthz");
            Assert.False(res.Headers.Contains("Strict-Transport-Security"));
        }
        var (cert, _, _) = SelfSigned();
        var notAKey = Path.Combine(_dir, "nokey.pem");
        File.WriteAllText(notAKey, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        var r = Cli.CliRunner.Run("serve", "--https-cert", cert, "--https-key", notAKey, "--urls", "https://127.0.0.1:0", "--keys", Path.Combine(_dir, "keys.json"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(cert + ": not a usable certificate and key", r.Err);
        var missing = Cli.CliRunner.Run("serve", "--https-cert", cert, "--urls", "https://127.0.0.1:0", "--keys", Path.Combine(_dir, "keys.json"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("a certificate without its private key", missing.Err);
    }
}
