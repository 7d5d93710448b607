// Shape expressions: output dims as expressions over input dims. The TensorRT adapters turn an Expr into
// IExprBuilder calls; tests (and the Python module) evaluate it numerically.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace trtkit {

enum class ExprOp : int32_t { kConst, kInputDim, kSum, kSub, kProd, kFloorDiv, kCeilDiv, kMax, kMin };

class Expr {
 public:
  Expr() : Expr(int64_t{0}) {}
  Expr(int64_t value);  // NOLINT(google-explicit-constructor): lets layers write `x + 1`
  Expr(int value) : Expr(static_cast<int64_t>(value)) {}  // NOLINT(google-explicit-constructor)
  static Expr inputDim(int input, int axis);

  ExprOp op() const { return node_->op; }
  int64_t constant() const { return node_->value; }  // kConst only
  int input() const { return node_->input; }         // kInputDim only
  int axis() const { return node_->axis; }           // kInputDim only
  const Expr& lhs() const { return *node_->lhs; }
  const Expr& rhs() const { return *node_->rhs; }
  bool isConstant() const { return node_->op == ExprOp::kConst; }

  // Evaluates with concrete input dims: dims(input, axis) -> value. Throws trtkit::Error on division by zero.
  int64_t eval(const std::function<int64_t(int, int)>& dims) const;
  std::string str() const;

  friend Expr operator+(const Expr& a, const Expr& b);
  friend Expr operator-(const Expr& a, const Expr& b);
  friend Expr operator*(const Expr& a, const Expr& b);
  friend Expr floorDiv(const Expr& a, const Expr& b);
  friend Expr ceilDiv(const Expr& a, const Expr& b);
  friend Expr max(const Expr& a, const Expr& b);
  friend Expr min(const Expr& a, const Expr& b);

 private:
  struct Node {
    ExprOp op = ExprOp::kConst;
    int64_t value = 0;
    int input = -1;
    int axis = -1;
    std::shared_ptr<const Expr> lhs, rhs;
  };
  static Expr binary(ExprOp op, const Expr& a, const Expr& b);  // folds constants
  explicit Expr(std::shared_ptr<const Node> n) : node_(std::move(n)) {}
  std::shared_ptr<const Node> node_;
};

using ExprDims = std::vector<Expr>;  // one tensor's shape

// Input shapes as expressions: shapes[i][d] == Expr::inputDim(i, d) (or a constant when the dim is known).
std::vector<ExprDims> symbolicInputs(const std::vector<int>& ranks);

// Evaluates output shape expressions for concrete input shapes.
std::vector<std::vector<int64_t>> evalShapes(const std::vector<ExprDims>& outputs,
                                             const std::vector<std::vector<int64_t>>& inputShapes);

}  // namespace trtkit
