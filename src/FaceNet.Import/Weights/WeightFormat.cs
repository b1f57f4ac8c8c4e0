namespace FaceNet.Import.Weights;

/// <summary>Where a weight file comes from: decides the layer naming and the defaults of the imported model.</summary>
public enum WeightFormat
{
    /// <summary>Keras HDF5 with the seed's layer names (<c>facenet_keras.h5</c>).</summary>
    Keras,
    /// <summary>PyTorch zip <c>.pt</c> state dict in facenet-pytorch's naming.</summary>
    Torch,
    /// <summary>safetensors with facenet-pytorch's naming.</summary>
    Safetensors,
    /// <summary>TensorFlow.js manifest + shards: the face-api.js recognition network (a ResNet after dlib's).</summary>
    Tfjs,
    /// <summary>An ONNX face model from elsewhere: its graph is kept and the metadata written into it.</summary>
    Onnx,
    /// <summary>A TensorFlow.js graph model (<c>model.json</c> with its nodes and weights): converted op by op to ONNX.</summary>
    TfjsGraph,
}
