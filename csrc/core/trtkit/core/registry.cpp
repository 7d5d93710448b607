#include "trtkit/core/registry.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>

#include "trtkit/core/error.hpp"

namespace trtkit {

LayerRegistry& LayerRegistry::global() {
  static LayerRegistry registry;
  return registry;
}

void LayerRegistry::add(LayerEntry entry) noexcept {
  try {
    validateSchema(entry.schema);
    TRTKIT_CHECK(find(entry.schema.name) == nullptr, "layer '", entry.schema.name, "' is registered twice");
    entries_.push_back(std::move(entry));
  } catch (const std::exception& e) {
    try {
      problems_.emplace_back(e.what());
    } catch (...) {
    }
  }
}

const LayerEntry* LayerRegistry::find(const std::string& name) const {
  for (const LayerEntry& e : entries_)
    if (e.schema.name == name) return &e;
  return nullptr;
}

const AttrSpec* LayerSchema::findAttr(const std::string& attr) const {
  for (const AttrSpec& a : attrs)
    if (a.name == attr) return &a;
  return nullptr;
}

namespace {

bool isIdentifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

std::string declaredNames(const LayerSchema& schema) {
  std::string names;
  for (const AttrSpec& a : schema.attrs) names += (names.empty() ? "" : ", ") + a.name;
  return names.empty() ? "none" : names;
}

// Coerces `v` to the declared type (int -> float, int -> [int], float -> [float], int -> [float]) or fails.
AttrValue coerce(const LayerSchema& schema, const AttrSpec& spec, AttrValue v) {
  const AttrType have = attrTypeOf(v);
  if (have == spec.type) return v;
  if (spec.type == AttrType::kFloat && have == AttrType::kInt) return static_cast<float>(std::get<int32_t>(v));
  if (spec.type == AttrType::kInts && have == AttrType::kInt) return std::vector<int32_t>{std::get<int32_t>(v)};
  if (spec.type == AttrType::kFloats && have == AttrType::kFloat) return std::vector<float>{std::get<float>(v)};
  if (spec.type == AttrType::kFloats && have == AttrType::kInts) {
    const auto& l = std::get<std::vector<int32_t>>(v);
    return std::vector<float>(l.begin(), l.end());
  }
  TRTKIT_FAIL(schema.name, ": attribute '", spec.name, "' must be ", attrTypeName(spec.type), ", got ",
              attrTypeName(have), " ", attrToString(v));
}

void runCheck(const LayerSchema& schema, const AttrSpec& spec, const AttrValue& v) {
  if (!spec.check) return;
  try {
    spec.check(v);
  } catch (const std::exception& e) {
    TRTKIT_FAIL(schema.name, ": attribute '", spec.name, "' = ", attrToString(v), " is invalid: ", e.what());
  }
}

}  // namespace

void validateSchema(const LayerSchema& s) {
  TRTKIT_CHECK(isIdentifier(s.name), "layer name '", s.name, "' is not an identifier");
  TRTKIT_CHECK(!s.inputs.empty() && !s.outputs.empty(), s.name, ": a layer needs at least one input and one output");
  TRTKIT_CHECK(!s.typeCombinations.empty(), s.name, ": the dtype table is empty");
  const size_t width = s.inputs.size() + s.outputs.size();
  for (const auto& row : s.typeCombinations)
    TRTKIT_CHECK(row.size() == width, s.name, ": a dtype table row has ", row.size(), " entries, expected ", width);
  std::set<std::string> seen;
  for (const AttrSpec& a : s.attrs) {
    TRTKIT_CHECK(isIdentifier(a.name), s.name, ": attribute name '", a.name, "' is not an identifier");
    TRTKIT_CHECK(a.name != "plugin_version" && a.name != "plugin_namespace", s.name, ": attribute name '", a.name,
                 "' is reserved by TensorRT's ONNX parser");
    TRTKIT_CHECK(seen.insert(a.name).second, s.name, ": attribute '", a.name, "' is declared twice");
    if (!a.required) {
      TRTKIT_CHECK(attrTypeOf(a.defaultValue) == a.type, s.name, ": default of '", a.name, "' is ",
                   attrTypeName(attrTypeOf(a.defaultValue)), ", declared ", attrTypeName(a.type));
      runCheck(s, a, a.defaultValue);
    }
  }
}

LayerConfig makeConfig(const LayerSchema& schema, const std::vector<std::pair<std::string, AttrValue>>& attrs) {
  for (const auto& kv : attrs) {
    TRTKIT_CHECK(schema.findAttr(kv.first) != nullptr, schema.name, ": unknown attribute '", kv.first,
                 "' (declared: ", declaredNames(schema), ")");
  }
  LayerConfig config(schema.name, kPluginVersionV2);
  for (const AttrSpec& spec : schema.attrs) {
    const AttrValue* given = nullptr;
    for (const auto& kv : attrs) {
      if (kv.first == spec.name) {
        TRTKIT_CHECK(given == nullptr, schema.name, ": attribute '", spec.name, "' is given twice");
        given = &kv.second;
      }
    }
    if (!given) {
      TRTKIT_CHECK(!spec.required, schema.name, ": required attribute '", spec.name, "' is missing");
      config.set(spec.name, spec.defaultValue);
      continue;
    }
    AttrValue v = coerce(schema, spec, *given);
    runCheck(schema, spec, v);
    config.set(spec.name, std::move(v));
  }
  return config;
}

std::unique_ptr<Layer> createLayer(const LayerConfig& config) {
  const LayerEntry* entry = LayerRegistry::global().find(config.op());
  TRTKIT_CHECK(entry != nullptr, "no layer named '", config.op(), "' in this library");
  LayerConfig checked = makeConfig(entry->schema, config.attrs());
  const size_t width = entry->schema.inputs.size() + entry->schema.outputs.size();
  TRTKIT_CHECK(config.io.empty() || config.io.size() == width, config.op(), ": config has ", config.io.size(),
               " io types, the layer has ", width, " inputs and outputs");
  checked.io = config.io;
  checked.workspace = config.workspace;
  return entry->factory(checked);
}

std::vector<DType> outputTypes(const LayerSchema& schema, const std::vector<DType>& inputTypes) {
  const size_t nIn = schema.inputs.size();
  TRTKIT_CHECK(inputTypes.size() == nIn, schema.name, ": ", inputTypes.size(), " input types given, the layer has ",
               nIn, " inputs");
  for (const auto& row : schema.typeCombinations) {
    if (std::equal(inputTypes.begin(), inputTypes.end(), row.begin()))
      return std::vector<DType>(row.begin() + static_cast<std::ptrdiff_t>(nIn), row.end());
  }
  std::ostringstream os;
  for (size_t i = 0; i < inputTypes.size(); ++i) os << (i ? ", " : "") << dtypeName(inputTypes[i]);
  TRTKIT_FAIL(schema.name, ": no supported dtype combination for inputs (", os.str(), ")");
}

bool supportsCombination(const LayerSchema& schema, int pos, const IOType* inOut, int nbInputs, int nbOutputs) {
  if (nbInputs != schema.numInputs() || nbOutputs != schema.numOutputs()) return false;
  if (pos < 0 || pos >= nbInputs + nbOutputs || inOut == nullptr) return false;
  for (int i = 0; i <= pos; ++i)
    if (inOut[i].format != Format::kLinear) return false;
  for (const auto& row : schema.typeCombinations) {
    bool match = true;
    for (int i = 0; i <= pos && match; ++i) match = row[i] == inOut[i].dtype;
    if (match) return true;
  }
  return false;
}

// ---- PluginField conversion ----

namespace {

const char* fieldTypeName(FieldType t) {
  switch (t) {
    case FieldType::kInt8: return "int8";
    case FieldType::kInt16: return "int16";
    case FieldType::kInt32: return "int32";
    case FieldType::kInt64: return "int64";
    case FieldType::kFloat16: return "float16";
    case FieldType::kBFloat16: return "bfloat16";
    case FieldType::kFloat32: return "float32";
    case FieldType::kFloat64: return "float64";
    case FieldType::kChar: return "char";
    case FieldType::kBytes: return "bytes";
  }
  return "invalid";
}

bool isIntegral(FieldType t) {
  return t == FieldType::kInt8 || t == FieldType::kInt16 || t == FieldType::kInt32 || t == FieldType::kInt64;
}
bool isFloating(FieldType t) {
  return t == FieldType::kFloat16 || t == FieldType::kBFloat16 || t == FieldType::kFloat32 || t == FieldType::kFloat64;
}

int64_t readInt(const RawField& f, int32_t i) {
  switch (f.type) {
    case FieldType::kInt8: return static_cast<const int8_t*>(f.data)[i];
    case FieldType::kInt16: return static_cast<const int16_t*>(f.data)[i];
    case FieldType::kInt32: return static_cast<const int32_t*>(f.data)[i];
    case FieldType::kInt64: return static_cast<const int64_t*>(f.data)[i];
    default: TRTKIT_FAIL("field '", f.name, "' is not integral");
  }
}

float bf16ToFloat(uint16_t b) {
  const uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

double readFloat(const RawField& f, int32_t i) {
  switch (f.type) {
    case FieldType::kFloat16: return halfToFloat(static_cast<const uint16_t*>(f.data)[i]);
    case FieldType::kBFloat16: return bf16ToFloat(static_cast<const uint16_t*>(f.data)[i]);
    case FieldType::kFloat32: return static_cast<const float*>(f.data)[i];
    case FieldType::kFloat64: return static_cast<const double*>(f.data)[i];
    default: return static_cast<double>(readInt(f, i));
  }
}

int32_t toInt32(const LayerSchema& s, const RawField& f, int64_t v) {
  TRTKIT_CHECK(v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max(), s.name,
               ": field '", f.name, "' value ", v, " does not fit in int32");
  return static_cast<int32_t>(v);
}

AttrValue fieldValue(const LayerSchema& s, const AttrSpec& spec, const RawField& f) {
  auto wrongType = [&]() {
    TRTKIT_FAIL(s.name, ": field '", f.name, "' has type ", fieldTypeName(f.type), ", attribute is ",
                attrTypeName(spec.type));
  };
  switch (spec.type) {
    case AttrType::kInt:
      if (!isIntegral(f.type)) wrongType();
      TRTKIT_CHECK(f.length == 1, s.name, ": field '", f.name, "' must hold one int, it holds ", f.length);
      return toInt32(s, f, readInt(f, 0));
    case AttrType::kInts: {
      if (!isIntegral(f.type)) wrongType();
      std::vector<int32_t> v;
      for (int32_t i = 0; i < f.length; ++i) v.push_back(toInt32(s, f, readInt(f, i)));
      return v;
    }
    case AttrType::kFloat:
      if (!isFloating(f.type) && !isIntegral(f.type)) wrongType();
      TRTKIT_CHECK(f.length == 1, s.name, ": field '", f.name, "' must hold one float, it holds ", f.length);
      return static_cast<float>(readFloat(f, 0));
    case AttrType::kFloats: {
      if (!isFloating(f.type) && !isIntegral(f.type)) wrongType();
      std::vector<float> v;
      for (int32_t i = 0; i < f.length; ++i) v.push_back(static_cast<float>(readFloat(f, i)));
      return v;
    }
    case AttrType::kString: {
      if (f.type != FieldType::kChar && f.type != FieldType::kInt8) wrongType();
      // The parser counts the trailing NUL in the length; a user may not. Stop at the first NUL either way.
      const char* c = static_cast<const char*>(f.data);
      size_t n = 0;
      while (n < static_cast<size_t>(f.length) && c[n] != '\0') ++n;
      return std::string(c, n);
    }
    case AttrType::kWeights: {
      DType dt;
      switch (f.type) {
        case FieldType::kFloat32: dt = DType::kFloat32; break;
        case FieldType::kFloat16: dt = DType::kFloat16; break;
        case FieldType::kBFloat16: dt = DType::kBFloat16; break;
        case FieldType::kInt8: dt = DType::kInt8; break;
        case FieldType::kInt32: dt = DType::kInt32; break;
        default: wrongType();
      }
      return Weight(dt, {static_cast<int64_t>(f.length)}, f.data);
    }
  }
  TRTKIT_FAIL(s.name, ": attribute '", spec.name, "' has an invalid type");
}

}  // namespace

LayerConfig configFromFields(const LayerSchema& schema, const std::vector<RawField>& fields) {
  std::vector<std::pair<std::string, AttrValue>> attrs;
  for (const RawField& f : fields) {
    const AttrSpec* spec = schema.findAttr(f.name);
    TRTKIT_CHECK(spec != nullptr, schema.name, ": unknown field '", f.name, "' (declared: ", declaredNames(schema),
                 ")");
    TRTKIT_CHECK(f.length >= 0, schema.name, ": field '", f.name, "' has negative length ", f.length);
    TRTKIT_CHECK(f.data != nullptr || f.length == 0, schema.name, ": field '", f.name, "' has no data");
    attrs.emplace_back(f.name, fieldValue(schema, *spec, f));
  }
  return makeConfig(schema, attrs);
}

}  // namespace trtkit
