// Attribute values and their schema. One AttrSpec list per op is the single source of truth for the
// creator's field names, LayerConfig, the ONNX node's attributes and the Python exporters.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "trtkit/core/weight.hpp"

namespace trtkit {

// The kinds a TensorRT PluginField can carry after the ONNX parser's conversions:
// INT -> kInt (int32), INTS -> kInts, FLOAT -> kFloat, FLOATS -> kFloats, STRING -> kString, TENSOR -> kWeights.
enum class AttrType : int32_t { kInt = 0, kInts = 1, kFloat = 2, kFloats = 3, kString = 4, kWeights = 5 };
constexpr int32_t kNumAttrTypes = 6;

const char* attrTypeName(AttrType t);

using AttrValue = std::variant<int32_t, std::vector<int32_t>, float, std::vector<float>, std::string, Weight>;

AttrType attrTypeOf(const AttrValue& v);
std::string attrToString(const AttrValue& v);  // for messages and repr; weights print as dtype[shape]

struct AttrSpec {
  std::string name;
  AttrType type = AttrType::kInt;
  AttrValue defaultValue = int32_t{0};  // ignored when required
  bool required = false;
  std::string doc;
  // Throws trtkit::Error naming the problem when the value is invalid (e.g. "stride must be > 0").
  std::function<void(const AttrValue&)> check;
};

// Helpers for schemas that read like a table.
AttrSpec intAttr(std::string name, int32_t def, std::string doc, std::function<void(const AttrValue&)> check = {});
AttrSpec intsAttr(std::string name, std::vector<int32_t> def, std::string doc,
                  std::function<void(const AttrValue&)> check = {});
AttrSpec floatAttr(std::string name, float def, std::string doc, std::function<void(const AttrValue&)> check = {});
AttrSpec floatsAttr(std::string name, std::vector<float> def, std::string doc,
                    std::function<void(const AttrValue&)> check = {});
AttrSpec stringAttr(std::string name, std::string def, std::string doc,
                    std::function<void(const AttrValue&)> check = {});
AttrSpec weightsAttr(std::string name, std::string doc, bool required = true);

// Common checks.
std::function<void(const AttrValue&)> checkIntsLength(size_t minLen, size_t maxLen);
std::function<void(const AttrValue&)> checkAllPositive();  // int or ints, every value > 0
std::function<void(const AttrValue&)> checkNonNegative();  // int or ints, every value >= 0
std::function<void(const AttrValue&)> checkJsonObject();   // string must be empty or a JSON object

// True when `text` is one well-formed JSON value (RFC 8259), nothing else after it but whitespace.
bool isValidJson(const std::string& text, std::string* why = nullptr);

}  // namespace trtkit
