// Namespaces every command file uses.
global using FaceNet.Alignment;
global using FaceNet.Benchmarks;
global using FaceNet.Detection;
global using FaceNet.Embedding;
global using FaceNet.Evaluation;
global using FaceNet.Gallery;
global using FaceNet.Gallery.Protection;
global using FaceNet.Imaging;
global using FaceNet.Matching;
global using FaceNet.Models;
global using FaceNet.Quality;
global using FaceNet.Service;
global using FaceNet.Weights;
global using System.CommandLine;
global using System.Diagnostics;
global using System.Globalization;
global using System.Text.Json;
