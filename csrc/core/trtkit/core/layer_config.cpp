#include "trtkit/core/layer_config.hpp"

#include <cstring>
#include <limits>

#include "trtkit/core/error.hpp"

namespace trtkit {

namespace {

constexpr char kMagic[4] = {'T', 'K', 'L', 'C'};
constexpr size_t kHeaderBytes = 12;  // magic + version + payload length
constexpr size_t kMaxRank = 8;

uint32_t fnv1a(const uint8_t* p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 16777619u;
  return h;
}

// Appends little-endian values; counts bytes when out == nullptr so the size is computed by the same code.
class Writer {
 public:
  explicit Writer(uint8_t* out) : out_(out) {}
  template <typename T>
  void pod(T v) {
    raw(&v, sizeof(T));
  }
  void raw(const void* p, size_t n) {
    if (out_ && n) std::memcpy(out_ + n_, p, n);
    n_ += n;
  }
  void str(const std::string& s) {
    pod(static_cast<uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  template <typename T>
  void list(const std::vector<T>& v) {
    pod(static_cast<uint32_t>(v.size()));
    raw(v.data(), v.size() * sizeof(T));
  }
  size_t size() const { return n_; }

 private:
  uint8_t* out_;
  size_t n_ = 0;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  void need(size_t k, const char* what) const {
    TRTKIT_CHECK(k <= n_ - i_, "LayerConfig: truncated data while reading ", what, " (need ", k, " bytes, ", n_ - i_,
                 " left)");
  }
  template <typename T>
  T pod(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + i_, sizeof(T));
    i_ += sizeof(T);
    return v;
  }
  void raw(void* dst, size_t k, const char* what) {
    need(k, what);
    if (k) std::memcpy(dst, p_ + i_, k);
    i_ += k;
  }
  std::string str(const char* what) {
    const uint32_t len = pod<uint32_t>(what);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + i_), len);
    i_ += len;
    return s;
  }
  template <typename T>
  std::vector<T> list(const char* what) {
    const uint32_t count = pod<uint32_t>(what);
    need(static_cast<size_t>(count) * sizeof(T), what);  // checked before allocating: no huge allocations
    std::vector<T> v(count);
    raw(v.data(), v.size() * sizeof(T), what);
    return v;
  }
  size_t left() const { return n_ - i_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t i_ = 0;
};

void writeValue(Writer& w, const AttrValue& v) {
  switch (attrTypeOf(v)) {
    case AttrType::kInt: w.pod(std::get<int32_t>(v)); break;
    case AttrType::kInts: w.list(std::get<std::vector<int32_t>>(v)); break;
    case AttrType::kFloat: w.pod(std::get<float>(v)); break;
    case AttrType::kFloats: w.list(std::get<std::vector<float>>(v)); break;
    case AttrType::kString: w.str(std::get<std::string>(v)); break;
    case AttrType::kWeights: {
      const Weight& wt = std::get<Weight>(v);
      w.pod(static_cast<int32_t>(wt.dtype()));
      w.list(wt.shape());
      w.pod(static_cast<uint64_t>(wt.bytes()));
      w.raw(wt.host(), wt.bytes());
      break;
    }
  }
}

AttrValue readValue(Reader& r, AttrType type, const std::string& name) {
  const char* what = name.c_str();
  switch (type) {
    case AttrType::kInt: return r.pod<int32_t>(what);
    case AttrType::kInts: return r.list<int32_t>(what);
    case AttrType::kFloat: return r.pod<float>(what);
    case AttrType::kFloats: return r.list<float>(what);
    case AttrType::kString: return r.str(what);
    case AttrType::kWeights: {
      const int32_t dt = r.pod<int32_t>(what);
      TRTKIT_CHECK(isValidDType(dt), "LayerConfig: weights '", name, "' have invalid dtype code ", dt);
      const std::vector<int64_t> shape = r.list<int64_t>(what);
      TRTKIT_CHECK(shape.size() <= kMaxRank, "LayerConfig: weights '", name, "' have rank ", shape.size());
      int64_t count = 1;
      for (int64_t d : shape) {
        TRTKIT_CHECK(d >= 0 && (d == 0 || count <= std::numeric_limits<int32_t>::max() / d), "LayerConfig: weights '",
                     name, "' have an invalid shape");
        count *= d;
      }
      const uint64_t bytes = r.pod<uint64_t>(what);
      TRTKIT_CHECK(bytes == static_cast<uint64_t>(count) * dtypeSize(static_cast<DType>(dt)), "LayerConfig: weights '",
                   name, "' hold ", bytes, " bytes, their shape needs ", count * dtypeSize(static_cast<DType>(dt)));
      r.need(bytes, what);
      std::vector<uint8_t> data(bytes);
      r.raw(data.data(), bytes, what);
      return Weight(static_cast<DType>(dt), shape, data.data());
    }
  }
  TRTKIT_FAIL("LayerConfig: attribute '", name, "' has invalid type code ", static_cast<int>(type));
}

void writePayload(Writer& w, const LayerConfig& c) {
  w.str(c.op());
  w.str(c.version());
  w.pod(static_cast<uint32_t>(c.attrs().size()));
  for (const auto& [name, value] : c.attrs()) {
    w.str(name);
    w.pod(static_cast<uint8_t>(attrTypeOf(value)));
    writeValue(w, value);
  }
  w.pod(static_cast<uint32_t>(c.io.size()));
  for (const IOType& t : c.io) {
    w.pod(static_cast<int32_t>(t.dtype));
    w.pod(static_cast<int32_t>(t.format));
  }
  w.pod(c.workspace);
}

}  // namespace

bool LayerConfig::has(const std::string& name) const {
  for (const auto& kv : attrs_)
    if (kv.first == name) return true;
  return false;
}

const AttrValue& LayerConfig::get(const std::string& name) const {
  for (const auto& kv : attrs_)
    if (kv.first == name) return kv.second;
  TRTKIT_FAIL(op_, ": attribute '", name, "' is not set");
}

void LayerConfig::set(const std::string& name, AttrValue value) {
  for (auto& kv : attrs_) {
    if (kv.first == name) {
      kv.second = std::move(value);
      return;
    }
  }
  attrs_.emplace_back(name, std::move(value));
}

template <typename T>
const T& LayerConfig::typed(const std::string& name, AttrType want) const {
  const AttrValue& v = get(name);
  const T* p = std::get_if<T>(&v);
  TRTKIT_CHECK(p != nullptr, op_, ": attribute '", name, "' is ", attrTypeName(attrTypeOf(v)), ", not ",
               attrTypeName(want));
  return *p;
}

int32_t LayerConfig::getInt(const std::string& n) const {
  return typed<int32_t>(n, AttrType::kInt);
}
const std::vector<int32_t>& LayerConfig::getInts(const std::string& n) const {
  return typed<std::vector<int32_t>>(n, AttrType::kInts);
}
float LayerConfig::getFloat(const std::string& n) const {
  return typed<float>(n, AttrType::kFloat);
}
const std::vector<float>& LayerConfig::getFloats(const std::string& n) const {
  return typed<std::vector<float>>(n, AttrType::kFloats);
}
const std::string& LayerConfig::getString(const std::string& n) const {
  return typed<std::string>(n, AttrType::kString);
}
const Weight& LayerConfig::getWeight(const std::string& n) const {
  return typed<Weight>(n, AttrType::kWeights);
}

size_t LayerConfig::serializedSize() const {
  Writer w(nullptr);
  writePayload(w, *this);
  return kHeaderBytes + w.size() + 4;
}

void LayerConfig::serializeTo(uint8_t* buffer, size_t size) const {
  Writer counter(nullptr);
  writePayload(counter, *this);
  const size_t payload = counter.size();
  TRTKIT_CHECK(size == kHeaderBytes + payload + 4, "LayerConfig::serializeTo: buffer of ", size, " bytes, need ",
               kHeaderBytes + payload + 4);
  TRTKIT_CHECK(payload < kLayerConfigMaxBytes, "LayerConfig: ", payload, " bytes is too large to serialize");
  Writer w(buffer);
  w.raw(kMagic, 4);
  w.pod(kLayerConfigFormatVersion);
  w.pod(static_cast<uint32_t>(payload));
  Writer body(buffer + kHeaderBytes);
  writePayload(body, *this);
  const uint32_t sum = fnv1a(buffer + kHeaderBytes, payload);
  std::memcpy(buffer + kHeaderBytes + payload, &sum, 4);
}

std::vector<uint8_t> LayerConfig::serialize() const {
  std::vector<uint8_t> out(serializedSize());
  serializeTo(out.data(), out.size());
  return out;
}

LayerConfig LayerConfig::deserialize(const void* data, size_t size) {
  TRTKIT_CHECK(data != nullptr || size == 0, "LayerConfig: null data");
  TRTKIT_CHECK(size >= kHeaderBytes + 4, "LayerConfig: ", size, " bytes is too short to be a serialized trtkit layer");
  const auto* bytes = static_cast<const uint8_t*>(data);
  TRTKIT_CHECK(std::memcmp(bytes, kMagic, 4) == 0,
               "LayerConfig: bad magic: these bytes are not a serialized trtkit layer");
  Reader header(bytes + 4, 8);
  const uint32_t version = header.pod<uint32_t>("format version");
  TRTKIT_CHECK(version == kLayerConfigFormatVersion, "LayerConfig: format version ", version,
               " is not supported by this build (it reads version ", kLayerConfigFormatVersion,
               "); rebuild the engine with this trtkit");
  const uint32_t payload = header.pod<uint32_t>("payload length");
  TRTKIT_CHECK(static_cast<size_t>(payload) + kHeaderBytes + 4 == size, "LayerConfig: payload length ", payload,
               " does not match the ", size, " bytes given (truncated or corrupted)");
  uint32_t stored;
  std::memcpy(&stored, bytes + kHeaderBytes + payload, 4);
  TRTKIT_CHECK(stored == fnv1a(bytes + kHeaderBytes, payload), "LayerConfig: checksum mismatch (corrupted data)");

  Reader r(bytes + kHeaderBytes, payload);
  std::string op = r.str("op name");  // two statements: argument evaluation order is unspecified
  std::string opVersion = r.str("op version");
  LayerConfig c(std::move(op), std::move(opVersion));
  const uint32_t nattrs = r.pod<uint32_t>("attribute count");
  TRTKIT_CHECK(nattrs <= r.left() / 6, "LayerConfig: attribute count ", nattrs, " exceeds the data");
  for (uint32_t i = 0; i < nattrs; ++i) {
    std::string name = r.str("attribute name");
    const uint8_t type = r.pod<uint8_t>("attribute type");
    TRTKIT_CHECK(type < kNumAttrTypes, "LayerConfig: attribute '", name, "' has invalid type code ", int{type});
    TRTKIT_CHECK(!c.has(name), "LayerConfig: attribute '", name, "' appears twice");
    AttrValue v = readValue(r, static_cast<AttrType>(type), name);
    c.attrs_.emplace_back(std::move(name), std::move(v));
  }
  const uint32_t nio = r.pod<uint32_t>("io count");
  TRTKIT_CHECK(nio <= r.left() / 8, "LayerConfig: io count ", nio, " exceeds the data");
  for (uint32_t i = 0; i < nio; ++i) {
    const int32_t dt = r.pod<int32_t>("io dtype");
    const int32_t fmt = r.pod<int32_t>("io format");
    TRTKIT_CHECK(isValidDType(dt), "LayerConfig: io ", i, " has invalid dtype code ", dt);
    TRTKIT_CHECK(isValidFormat(fmt), "LayerConfig: io ", i, " has invalid format code ", fmt);
    c.io.push_back({static_cast<DType>(dt), static_cast<Format>(fmt)});
  }
  c.workspace = r.pod<uint64_t>("workspace");
  TRTKIT_CHECK(r.left() == 0, "LayerConfig: ", r.left(), " unexpected trailing bytes");
  return c;
}

bool LayerConfig::operator==(const LayerConfig& o) const {
  return op_ == o.op_ && version_ == o.version_ && attrs_ == o.attrs_ && io == o.io && workspace == o.workspace;
}

}  // namespace trtkit
