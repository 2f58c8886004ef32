//===- layers/registry.h - Keras class name -> converter ---------------------===//
//
// A flat table, filled by one registration function per layer family file.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layers/converter.h"

namespace k2t::layers {

class Registry {
 public:
  static const Registry& Get();

  const Converter* Find(const std::string& class_name) const;
  std::vector<std::string> ClassNames() const;
  void Add(const std::string& class_name, std::shared_ptr<const Converter> converter);

 private:
  std::map<std::string, std::shared_ptr<const Converter>> converters_;
};

// True for classes that ship with some version of Keras (so an unsupported one
// is our gap, not the user's custom code).
bool IsKerasBuiltinClass(const std::string& class_name);

// One per family file.
void RegisterCoreLayers(Registry& registry);        // InputLayer, Dense, Activation, ...
void RegisterActivationLayers(Registry& registry);  // ReLU, LeakyReLU, ELU, PReLU, Softmax
void RegisterRegularizationLayers(Registry& registry);  // Dropout family
void RegisterReshapeLayers(Registry& registry);     // Flatten, Reshape, Permute, padding
void RegisterConvolutionLayers(Registry& registry);
void RegisterPoolingLayers(Registry& registry);
void RegisterNormalizationLayers(Registry& registry);
void RegisterMergeLayers(Registry& registry);
void RegisterEmbeddingLayers(Registry& registry);
void RegisterConvTransposeLayers(Registry& registry);
void RegisterDepthwiseLayers(Registry& registry);   // DepthwiseConv, SeparableConv
void RegisterResamplingLayers(Registry& registry);  // UpSampling, Resizing, CenterCrop
void RegisterPreprocessingLayers(Registry& registry);  // Rescaling, Normalization
void RegisterNormLayers(Registry& registry);  // Layer/Group/Unit/RMS normalization
void RegisterMiscLayers(Registry& registry);  // RepeatVector, Identity, applications' layers
void RegisterOps(Registry& registry);  // keras.ops nodes of Keras 3 graphs (x + 3.0)
void RegisterTfFunctions(Registry& registry);  // TFOpLambda, SlicingOpLambda of tf_keras
void RegisterMaskingLayers(Registry& registry);  // Masking, internal mask computation
void RegisterRecurrentLayers(Registry& registry);  // LSTM, GRU, SimpleRNN, Bidirectional
void RegisterWrapperLayers(Registry& registry);   // TimeDistributed
void RegisterRnnCellLayers(Registry& registry);   // RNN(cell), StackedRNNCells
void RegisterAttentionLayers(Registry& registry);  // MultiHeadAttention, Attention, Dot, ...
void RegisterConvLstmLayers(Registry& registry);   // ConvLSTM1D/2D/3D

}  // namespace k2t::layers
