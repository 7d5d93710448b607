// LayerConfig: everything a layer instance needs, and the bytes TensorRT stores in an engine.
// Attributes (in schema order), the dtypes/formats chosen at configure time and the workspace size.
//
// Serialized form (little endian), format version 1:
//   magic "TKLC" | u32 format version | u32 payload bytes | payload | u32 FNV-1a checksum of payload
//   payload: str op | str op version | u32 nattrs | nattrs x (str name | u8 type | value)
//            | u32 nio | nio x (i32 dtype, i32 format) | u64 workspace
//   str: u32 length + bytes; ints/floats: u32 count + values; weights: i32 dtype | u32 rank | i64 dims | bytes
// Deserialization checks every length against what is left, every enum against its range and the checksum,
// and throws trtkit::Error naming the problem: it never reads out of bounds.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "trtkit/core/attribute.hpp"
#include "trtkit/core/dtype.hpp"

namespace trtkit {

constexpr uint32_t kLayerConfigFormatVersion = 1;
constexpr size_t kLayerConfigMaxBytes = size_t{1} << 31;  // refuse anything larger (corrupted lengths)

struct IOType {
  DType dtype = DType::kFloat32;
  Format format = Format::kLinear;
  bool operator==(const IOType& o) const { return dtype == o.dtype && format == o.format; }
};

class LayerConfig {
 public:
  LayerConfig() = default;
  LayerConfig(std::string op, std::string version) : op_(std::move(op)), version_(std::move(version)) {}

  const std::string& op() const { return op_; }
  const std::string& version() const { return version_; }

  // Attributes.
  bool has(const std::string& name) const;
  const AttrValue& get(const std::string& name) const;  // throws when missing
  void set(const std::string& name, AttrValue value);   // replaces or appends
  const std::vector<std::pair<std::string, AttrValue>>& attrs() const { return attrs_; }

  int32_t getInt(const std::string& name) const;
  const std::vector<int32_t>& getInts(const std::string& name) const;
  float getFloat(const std::string& name) const;
  const std::vector<float>& getFloats(const std::string& name) const;
  const std::string& getString(const std::string& name) const;
  const Weight& getWeight(const std::string& name) const;

  // Chosen at configure time: one entry per input then per output.
  std::vector<IOType> io;
  uint64_t workspace = 0;

  std::vector<uint8_t> serialize() const;
  size_t serializedSize() const;
  void serializeTo(uint8_t* buffer, size_t size) const;  // size must be serializedSize()
  static LayerConfig deserialize(const void* data, size_t size);

  bool operator==(const LayerConfig& o) const;

 private:
  template <typename T>
  const T& typed(const std::string& name, AttrType want) const;

  std::string op_;
  std::string version_;
  std::vector<std::pair<std::string, AttrValue>> attrs_;
};

}  // namespace trtkit
