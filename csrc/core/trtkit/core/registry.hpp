// The layer registry: every plugin registers its Layer with one line, TRTKIT_REGISTER_LAYER(Class).
// Class provides `static LayerSchema schema();` and a constructor taking `const LayerConfig&`.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "trtkit/core/layer.hpp"

namespace trtkit {

using LayerFactory = std::function<std::unique_ptr<Layer>(const LayerConfig&)>;

struct LayerEntry {
  LayerSchema schema;
  LayerFactory factory;
};

class LayerRegistry {
 public:
  // One registry per shared object (symbols are hidden), so a user's plugin library and the kit's never mix.
  static LayerRegistry& global();
  // Never throws (it runs during static initialization): a rejected entry (duplicate name, inconsistent
  // schema) is recorded in problems(), which the library entry points and the Python module report.
  void add(LayerEntry entry) noexcept;
  const LayerEntry* find(const std::string& name) const;
  const std::deque<LayerEntry>& entries() const { return entries_; }
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::deque<LayerEntry> entries_;  // deque: entry addresses stay valid as plugins register
  std::vector<std::string> problems_;
};

// Checks a schema for internal consistency (names, type table widths, defaults pass their checks).
void validateSchema(const LayerSchema& schema);

// A validated config: unknown attributes and missing required ones are errors, defaults are filled in,
// types are checked (an int is accepted where a float is declared) and every attribute's check runs.
LayerConfig makeConfig(const LayerSchema& schema, const std::vector<std::pair<std::string, AttrValue>>& attrs);

// Re-validates a config (e.g. one just deserialized) against its op's schema and instantiates the layer.
std::unique_ptr<Layer> createLayer(const LayerConfig& config);

// Output dtypes for the given input dtypes from the schema's table; throws when no row matches.
std::vector<DType> outputTypes(const LayerSchema& schema, const std::vector<DType>& inputTypes);

// supportsFormatCombination for position `pos` given the decisions for positions [0, pos]:
// some row of the table must agree with all of them, and every format must be linear.
bool supportsCombination(const LayerSchema& schema, int pos, const IOType* inOut, int nbInputs, int nbOutputs);

// ---- PluginField conversion, TensorRT-free so the CPU tier tests the parser's exact rules ----
enum class FieldType : int32_t {
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFloat16,
  kBFloat16,
  kFloat32,
  kFloat64,
  kChar,
  kBytes
};
struct RawField {
  std::string name;
  const void* data = nullptr;
  FieldType type = FieldType::kInt32;
  int32_t length = 0;
};

// Builds a config from the fields TensorRT's ONNX parser (or a user) passes to createPlugin:
// INT -> kInt32[1], INTS -> kInt32[n], FLOAT(S) -> kFloat32, STRING -> kChar with the trailing NUL counted,
// TENSOR -> numeric arrays. Unknown field names are errors; missing optional ones take their defaults.
LayerConfig configFromFields(const LayerSchema& schema, const std::vector<RawField>& fields);

namespace detail {
template <typename T>
struct Registrar {
  Registrar() {
    LayerRegistry::global().add(
        {T::schema(), [](const LayerConfig& c) -> std::unique_ptr<Layer> { return std::make_unique<T>(c); }});
  }
};
}  // namespace detail

}  // namespace trtkit

#define TRTKIT_REGISTER_LAYER(Class) \
  static const ::trtkit::detail::Registrar<Class> trtkit_registrar_##Class {}
