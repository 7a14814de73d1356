#include "support/cbpf_eval.h"

#include <cstring>

namespace isol8::test {

std::variant<uint32_t, std::string> run_seccomp_bpf(std::span<const sock_filter> program,
                                                    const seccomp_data& data) {
  uint32_t a = 0;
  uint32_t x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  auto word_at = [&](uint32_t offset, uint32_t& out) {
    if (offset % 4 != 0 || uint64_t{offset} + 4 > sizeof data) return false;
    std::memcpy(&out, reinterpret_cast<const char*>(&data) + offset, 4);
    return true;
  };
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& f = program[pc];
    const auto where = " at instruction " + std::to_string(pc);
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
        if (f.code == (BPF_LD | BPF_W | BPF_ABS)) {
          if (!word_at(f.k, a)) return "a load outside seccomp_data" + where;
        } else if (f.code == (BPF_LD | BPF_IMM)) {
          a = f.k;
        } else if (f.code == (BPF_LD | BPF_MEM) && f.k < BPF_MEMWORDS) {
          a = mem[f.k];
        } else {
          return "an unsupported load" + where;
        }
        break;
      case BPF_LDX:
        if (f.code == (BPF_LDX | BPF_IMM)) {
          x = f.k;
        } else if (f.code == (BPF_LDX | BPF_MEM) && f.k < BPF_MEMWORDS) {
          x = mem[f.k];
        } else {
          return "an unsupported load into X" + where;
        }
        break;
      case BPF_ST:
        if (f.k >= BPF_MEMWORDS) return "a store outside the scratch memory" + where;
        mem[f.k] = a;
        break;
      case BPF_STX:
        if (f.k >= BPF_MEMWORDS) return "a store outside the scratch memory" + where;
        mem[f.k] = x;
        break;
      case BPF_ALU: {
        const uint32_t operand = BPF_SRC(f.code) == BPF_X ? x : f.k;
        switch (BPF_OP(f.code)) {
          case BPF_ADD:
            a += operand;
            break;
          case BPF_SUB:
            a -= operand;
            break;
          case BPF_MUL:
            a *= operand;
            break;
          case BPF_DIV:
            if (operand == 0) return "a division by zero" + where;
            a /= operand;
            break;
          case BPF_OR:
            a |= operand;
            break;
          case BPF_AND:
            a &= operand;
            break;
          case BPF_XOR:
            a ^= operand;
            break;
          case BPF_LSH:
            a = operand < 32 ? a << operand : 0;
            break;
          case BPF_RSH:
            a = operand < 32 ? a >> operand : 0;
            break;
          case BPF_NEG:
            a = 0 - a;
            break;
          default:
            return "an unsupported ALU operation" + where;
        }
        break;
      }
      case BPF_JMP: {
        if (BPF_OP(f.code) == BPF_JA) {
          pc += f.k;
          break;
        }
        const uint32_t operand = BPF_SRC(f.code) == BPF_X ? x : f.k;
        bool taken = false;
        switch (BPF_OP(f.code)) {
          case BPF_JEQ:
            taken = a == operand;
            break;
          case BPF_JGT:
            taken = a > operand;
            break;
          case BPF_JGE:
            taken = a >= operand;
            break;
          case BPF_JSET:
            taken = (a & operand) != 0;
            break;
          default:
            return "an unsupported jump" + where;
        }
        pc += taken ? f.jt : f.jf;
        break;
      }
      case BPF_RET:
        if (BPF_RVAL(f.code) == BPF_K) return f.k;
        if (BPF_RVAL(f.code) == BPF_A) return a;
        return "an unsupported return" + where;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) == BPF_TAX) {
          x = a;
        } else if (BPF_MISCOP(f.code) == BPF_TXA) {
          a = x;
        } else {
          return "an unsupported instruction" + where;
        }
        break;
      default:
        return "an unsupported instruction" + where;
    }
  }
  return std::string("the program ends without a return");
}

}  // namespace isol8::test
