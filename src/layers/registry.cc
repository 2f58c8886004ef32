//===- layers/registry.cc - Keras class name -> converter --------------------===//
#include "layers/registry.h"

#include <set>

namespace k2t::layers {

const Registry& Registry::Get() {
  static const Registry registry = [] {
    Registry r;
    RegisterCoreLayers(r);
    RegisterActivationLayers(r);
    RegisterRegularizationLayers(r);
    RegisterReshapeLayers(r);
    RegisterConvolutionLayers(r);
    RegisterPoolingLayers(r);
    RegisterNormalizationLayers(r);
    RegisterMergeLayers(r);
    RegisterEmbeddingLayers(r);
    RegisterConvTransposeLayers(r);
    RegisterDepthwiseLayers(r);
    RegisterResamplingLayers(r);
    RegisterPreprocessingLayers(r);
    RegisterNormLayers(r);
    RegisterMiscLayers(r);
    RegisterOps(r);
    RegisterTfFunctions(r);
    RegisterMaskingLayers(r);
    RegisterRecurrentLayers(r);
    RegisterWrapperLayers(r);
    RegisterRnnCellLayers(r);
    RegisterAttentionLayers(r);
    RegisterConvLstmLayers(r);
    return r;
  }();
  return registry;
}

const Converter* Registry::Find(const std::string& class_name) const {
  const auto it = converters_.find(class_name);
  return it == converters_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Registry::ClassNames() const {
  std::vector<std::string> names;
  for (const auto& [name, converter] : converters_) names.push_back(name);
  return names;
}

void Registry::Add(const std::string& class_name, std::shared_ptr<const Converter> converter) {
  converters_[class_name] = std::move(converter);
}

bool IsKerasBuiltinClass(const std::string& class_name) {
  // keras.ops operations recorded in Keras 3 graphs.
  if (class_name.rfind("ops.", 0) == 0) return true;
  // Layer classes of Keras 1, Keras 2, tf.keras and Keras 3 (after alias
  // canonicalisation), including the ones keras2torch does not convert yet.
  static const std::set<std::string> builtin = {
      "Activation", "ActivityRegularization", "Add", "AdditiveAttention", "AlphaDropout",
      "Attention", "AutoContrast", "Average", "AveragePooling1D", "AveragePooling2D",
      "AveragePooling3D", "BatchNormalization", "Bidirectional", "CategoryEncoding",
      "CenterCrop", "Concatenate", "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose",
      "Conv3D", "Conv3DTranspose", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Cropping1D",
      "Cropping2D", "Cropping3D", "CuDNNGRU", "CuDNNLSTM", "Dense", "DenseFeatures",
      "DepthwiseConv1D", "DepthwiseConv2D", "Discretization", "Dot", "Dropout", "ELU",
      "EinsumDense", "Embedding", "Equalization", "Flatten", "FlaxLayer", "GRU", "GRUCell",
      "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
      "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
      "GlobalMaxPooling3D", "GroupNormalization", "GroupQueryAttention", "HashedCrossing",
      "Hashing", "Highway", "Identity", "InputLayer", "InputSpec", "IntegerLookup", "JaxLayer",
      "LSTM", "LSTMCell", "Lambda", "LayerNormalization", "LeakyReLU", "LocallyConnected1D",
      "LocallyConnected2D", "Masking", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
      "MaxoutDense", "Maximum", "MelSpectrogram", "Merge", "Minimum", "MixUp",
      "MultiHeadAttention", "Multiply", "Normalization", "PReLU", "Permute", "RNN",
      "RandAugment", "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter",
      "RandomContrast", "RandomCrop", "RandomFlip", "RandomGrayscale", "RandomHue",
      "RandomPosterization", "RandomRotation", "RandomSaturation", "RandomSharpness",
      "RandomShear", "RandomTranslation", "RandomZoom", "ReLU", "RMSNormalization",
      "RepeatVector", "Rescaling", "Reshape", "Resizing", "ReversibleEmbedding",
      "STFTSpectrogram", "SeparableConv1D", "SeparableConv2D", "SimpleRNN", "SimpleRNNCell",
      "Softmax", "Solarization", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
      "SpectralNormalization", "StackedRNNCells", "StringLookup", "Subtract", "TFOpLambda",
      "SlicingOpLambda", "TextVectorization", "ThresholdedReLU", "TimeDistributed",
      "TimeDistributedDense", "TorchModuleWrapper", "UnitNormalization", "UpSampling1D",
      "UpSampling2D", "UpSampling3D", "Wrapper", "ZeroPadding1D", "ZeroPadding2D",
      "ZeroPadding3D", "AtrousConvolution1D", "AtrousConvolution2D", "Convolution1D",
      "Convolution2D", "Convolution3D", "Deconvolution2D", "SeparableConvolution2D",
      "Functional", "Sequential", "Model", "Pipeline", "RandomErasing", "RandomGaussianBlur",
      "RandomElasticTransform", "RandomInvert", "RandomPerspective", "AugMix", "CutMix",
      "LayerScale", "StochasticDepth", "CustomScaleLayer",
  };
  return builtin.count(class_name) > 0;
}

}  // namespace k2t::layers
