#include "trtkit/core/attribute.hpp"

#include <cctype>
#include <cstring>
#include <sstream>
#include <utility>

#include "trtkit/core/error.hpp"

namespace trtkit {

const char* attrTypeName(AttrType t) {
  switch (t) {
    case AttrType::kInt: return "int";
    case AttrType::kInts: return "ints";
    case AttrType::kFloat: return "float";
    case AttrType::kFloats: return "floats";
    case AttrType::kString: return "string";
    case AttrType::kWeights: return "weights";
  }
  return "invalid";
}

AttrType attrTypeOf(const AttrValue& v) {
  return static_cast<AttrType>(v.index());
}

namespace {
template <typename T>
void printList(std::ostringstream& os, const std::vector<T>& v) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
}
}  // namespace

std::string attrToString(const AttrValue& v) {
  std::ostringstream os;
  switch (attrTypeOf(v)) {
    case AttrType::kInt: os << std::get<int32_t>(v); break;
    case AttrType::kInts: printList(os, std::get<std::vector<int32_t>>(v)); break;
    case AttrType::kFloat: os << std::get<float>(v); break;
    case AttrType::kFloats: printList(os, std::get<std::vector<float>>(v)); break;
    case AttrType::kString: os << '"' << std::get<std::string>(v) << '"'; break;
    case AttrType::kWeights: {
      const Weight& w = std::get<Weight>(v);
      os << dtypeName(w.dtype());
      printList(os, w.shape());
      break;
    }
  }
  return os.str();
}

static AttrSpec makeSpec(std::string name, AttrType type, AttrValue def, std::string doc,
                         std::function<void(const AttrValue&)> check) {
  AttrSpec s;
  s.name = std::move(name);
  s.type = type;
  s.defaultValue = std::move(def);
  s.doc = std::move(doc);
  s.check = std::move(check);
  return s;
}

AttrSpec intAttr(std::string name, int32_t def, std::string doc, std::function<void(const AttrValue&)> check) {
  return makeSpec(std::move(name), AttrType::kInt, def, std::move(doc), std::move(check));
}
AttrSpec intsAttr(std::string name, std::vector<int32_t> def, std::string doc,
                  std::function<void(const AttrValue&)> check) {
  return makeSpec(std::move(name), AttrType::kInts, std::move(def), std::move(doc), std::move(check));
}
AttrSpec floatAttr(std::string name, float def, std::string doc, std::function<void(const AttrValue&)> check) {
  return makeSpec(std::move(name), AttrType::kFloat, def, std::move(doc), std::move(check));
}
AttrSpec floatsAttr(std::string name, std::vector<float> def, std::string doc,
                    std::function<void(const AttrValue&)> check) {
  return makeSpec(std::move(name), AttrType::kFloats, std::move(def), std::move(doc), std::move(check));
}
AttrSpec stringAttr(std::string name, std::string def, std::string doc, std::function<void(const AttrValue&)> check) {
  return makeSpec(std::move(name), AttrType::kString, std::move(def), std::move(doc), std::move(check));
}
AttrSpec weightsAttr(std::string name, std::string doc, bool required) {
  AttrSpec s = makeSpec(std::move(name), AttrType::kWeights, Weight(), std::move(doc), {});
  s.required = required;
  return s;
}

static std::vector<int32_t> intsOf(const AttrValue& v) {
  if (auto* i = std::get_if<int32_t>(&v)) return {*i};
  if (auto* l = std::get_if<std::vector<int32_t>>(&v)) return *l;
  TRTKIT_FAIL("expected an int or a list of ints, got ", attrTypeName(attrTypeOf(v)));
}

std::function<void(const AttrValue&)> checkIntsLength(size_t minLen, size_t maxLen) {
  return [=](const AttrValue& v) {
    const size_t n = intsOf(v).size();
    TRTKIT_CHECK(n >= minLen && n <= maxLen, "must have ", minLen == maxLen ? "" : "between ", minLen,
                 minLen == maxLen ? "" : " and ", minLen == maxLen ? "" : std::to_string(maxLen), " values, got ", n);
  };
}

std::function<void(const AttrValue&)> checkAllPositive() {
  return [](const AttrValue& v) {
    for (int32_t x : intsOf(v)) TRTKIT_CHECK(x > 0, "must be > 0, got ", x);
  };
}

std::function<void(const AttrValue&)> checkNonNegative() {
  return [](const AttrValue& v) {
    for (int32_t x : intsOf(v)) TRTKIT_CHECK(x >= 0, "must be >= 0, got ", x);
  };
}

std::function<void(const AttrValue&)> checkJsonObject() {
  return [](const AttrValue& v) {
    const std::string& s = std::get<std::string>(v);
    if (s.empty()) return;
    std::string why;
    TRTKIT_CHECK(isValidJson(s, &why), "is not valid JSON: ", why);
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    TRTKIT_CHECK(s[i] == '{', "must be a JSON object ({...})");
  };
}

// ---- a small strict JSON validator (RFC 8259); recursion is bounded so hostile input cannot overflow ----
namespace {
class JsonChecker {
 public:
  explicit JsonChecker(const std::string& s) : s_(s) {}
  bool run(std::string* why) {
    bool ok = value(0);
    if (ok) {
      ws();
      if (i_ != s_.size()) ok = fail("unexpected text after the value");
    }
    if (!ok && why) *why = err_ + " at offset " + std::to_string(i_);
    return ok;
  }

 private:
  bool fail(const char* m) {
    if (err_.empty()) err_ = m;
    return false;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool lit(const char* w) {
    for (size_t k = 0; w[k]; ++k, ++i_)
      if (i_ >= s_.size() || s_[i_] != w[k]) return fail("invalid literal");
    return true;
  }
  bool str() {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return true;
      if (c < 0x20) return fail("control character in string");
      if (c == '\\') {
        if (i_ >= s_.size()) break;
        const char e = s_[i_++];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k, ++i_)
            if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) return fail("bad \\u escape");
        } else if (!std::strchr("\"\\/bfnrt", e)) {
          return fail("bad escape");
        }
      }
    }
    return fail("unterminated string");
  }
  bool digits() {
    const size_t start = i_;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ > start || fail("digit expected");
  }
  bool num() {
    if (s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      return false;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return false;
    }
    return true;
  }
  bool value(int depth) {
    if (depth > 64) return fail("nesting deeper than 64");
    ws();
    if (i_ >= s_.size()) return fail("value expected");
    const char c = s_[i_];
    if (c == '{') return container(depth, '}', true);
    if (c == '[') return container(depth, ']', false);
    if (c == '"') return str();
    if (c == 't') return lit("true");
    if (c == 'f') return lit("false");
    if (c == 'n') return lit("null");
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) return num();
    return fail("value expected");
  }
  bool container(int depth, char close, bool object) {
    ++i_;
    ws();
    if (i_ < s_.size() && s_[i_] == close) {
      ++i_;
      return true;
    }
    while (true) {
      if (object) {
        ws();
        if (i_ >= s_.size() || s_[i_] != '"') return fail("object key expected");
        if (!str()) return false;
        ws();
        if (i_ >= s_.size() || s_[i_] != ':') return fail("':' expected");
        ++i_;
      }
      if (!value(depth + 1)) return false;
      ws();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == close) {
        ++i_;
        return true;
      }
      return fail(object ? "',' or '}' expected" : "',' or ']' expected");
    }
  }

  const std::string& s_;
  size_t i_ = 0;
  std::string err_;
};
}  // namespace

bool isValidJson(const std::string& text, std::string* why) {
  return JsonChecker(text).run(why);
}

}  // namespace trtkit
