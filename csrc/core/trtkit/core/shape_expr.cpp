#include "trtkit/core/shape_expr.hpp"

#include <algorithm>
#include <sstream>

#include "trtkit/core/error.hpp"

namespace trtkit {

namespace {
int64_t floorDivInt(int64_t a, int64_t b) {
  TRTKIT_CHECK(b != 0, "shape expression: division by zero");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t ceilDivInt(int64_t a, int64_t b) {
  return -floorDivInt(-a, b);
}

int64_t apply(ExprOp op, int64_t a, int64_t b) {
  switch (op) {
    case ExprOp::kSum: return a + b;
    case ExprOp::kSub: return a - b;
    case ExprOp::kProd: return a * b;
    case ExprOp::kFloorDiv: return floorDivInt(a, b);
    case ExprOp::kCeilDiv: return ceilDivInt(a, b);
    case ExprOp::kMax: return std::max(a, b);
    case ExprOp::kMin: return std::min(a, b);
    default: TRTKIT_FAIL("shape expression: not a binary operation");
  }
}

const char* opText(ExprOp op) {
  switch (op) {
    case ExprOp::kSum: return "+";
    case ExprOp::kSub: return "-";
    case ExprOp::kProd: return "*";
    case ExprOp::kFloorDiv: return "floordiv";
    case ExprOp::kCeilDiv: return "ceildiv";
    case ExprOp::kMax: return "max";
    case ExprOp::kMin: return "min";
    default: return "?";
  }
}
}  // namespace

Expr::Expr(int64_t value) {
  auto n = std::make_shared<Node>();
  n->op = ExprOp::kConst;
  n->value = value;
  node_ = std::move(n);
}

Expr Expr::inputDim(int input, int axis) {
  auto n = std::make_shared<Node>();
  n->op = ExprOp::kInputDim;
  n->input = input;
  n->axis = axis;
  return Expr(std::shared_ptr<const Node>(std::move(n)));
}

Expr Expr::binary(ExprOp op, const Expr& a, const Expr& b) {
  if (a.isConstant() && b.isConstant()) return Expr(apply(op, a.constant(), b.constant()));
  auto n = std::make_shared<Node>();
  n->op = op;
  n->lhs = std::make_shared<const Expr>(a);
  n->rhs = std::make_shared<const Expr>(b);
  return Expr(std::shared_ptr<const Node>(std::move(n)));
}

Expr operator+(const Expr& a, const Expr& b) {
  return Expr::binary(ExprOp::kSum, a, b);
}
Expr operator-(const Expr& a, const Expr& b) {
  return Expr::binary(ExprOp::kSub, a, b);
}
Expr operator*(const Expr& a, const Expr& b) {
  return Expr::binary(ExprOp::kProd, a, b);
}
Expr floorDiv(const Expr& a, const Expr& b) {
  return Expr::binary(ExprOp::kFloorDiv, a, b);
}
Expr ceilDiv(const Expr& a, const Expr& b) {
  return Expr::binary(ExprOp::kCeilDiv, a, b);
}
Expr max(const Expr& a, const Expr& b) {
  return Expr::binary(ExprOp::kMax, a, b);
}
Expr min(const Expr& a, const Expr& b) {
  return Expr::binary(ExprOp::kMin, a, b);
}

int64_t Expr::eval(const std::function<int64_t(int, int)>& dims) const {
  switch (op()) {
    case ExprOp::kConst: return constant();
    case ExprOp::kInputDim: return dims(input(), axis());
    default: return apply(op(), lhs().eval(dims), rhs().eval(dims));
  }
}

std::string Expr::str() const {
  std::ostringstream os;
  switch (op()) {
    case ExprOp::kConst: os << constant(); break;
    case ExprOp::kInputDim: os << "in" << input() << "[" << axis() << "]"; break;
    case ExprOp::kSum:
    case ExprOp::kSub:
    case ExprOp::kProd: os << "(" << lhs().str() << " " << opText(op()) << " " << rhs().str() << ")"; break;
    default: os << opText(op()) << "(" << lhs().str() << ", " << rhs().str() << ")"; break;
  }
  return os.str();
}

std::vector<ExprDims> symbolicInputs(const std::vector<int>& ranks) {
  std::vector<ExprDims> out;
  for (size_t i = 0; i < ranks.size(); ++i) {
    ExprDims d;
    for (int a = 0; a < ranks[i]; ++a) d.push_back(Expr::inputDim(static_cast<int>(i), a));
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::vector<int64_t>> evalShapes(const std::vector<ExprDims>& outputs,
                                             const std::vector<std::vector<int64_t>>& inputShapes) {
  auto dims = [&](int i, int a) -> int64_t {
    TRTKIT_CHECK(i >= 0 && i < static_cast<int>(inputShapes.size()), "shape expression: no input ", i);
    TRTKIT_CHECK(a >= 0 && a < static_cast<int>(inputShapes[i].size()), "shape expression: input ", i, " has no axis ",
                 a);
    return inputShapes[i][a];
  };
  std::vector<std::vector<int64_t>> out;
  for (const ExprDims& o : outputs) {
    std::vector<int64_t> s;
    for (const Expr& e : o) s.push_back(e.eval(dims));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace trtkit
