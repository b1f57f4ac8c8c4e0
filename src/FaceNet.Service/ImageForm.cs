using Microsoft.AspNetCore.Http;

namespace FaceNet.Service;

public sealed record ImageForm(IFormFile Image);
