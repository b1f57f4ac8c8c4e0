using Microsoft.AspNetCore.Http;

namespace FaceNet.Service;

public sealed record VerifyForm(IFormFile Image1, IFormFile Image2);
