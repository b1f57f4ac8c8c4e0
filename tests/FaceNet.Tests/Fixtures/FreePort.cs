using System.Net;
using System.Net.Sockets;

namespace FaceNet.Tests;

/// <summary>Ports nobody listens on now (the system's choice on 127.0.0.1), for servers the tests start.</summary>
public static class FreePort
{
    public static int Next()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
