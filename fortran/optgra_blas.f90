!> The BLAS level-3 kernels the engine's blocked factorisation uses, from OpenBLAS as the
!> scipy-openblas32 package ships it: symbols prefixed scipy_, 32-bit integers.  pyoptgra imports
!> scipy_openblas32 before the engine, which loads the library into the process's global
!> namespace; the engine is linked against these names and nothing else.
!>
!> Arguments follow the reference BLAS: a matrix is its first element and its leading dimension,
!> so a block of a larger array is passed without a copy (the caller's array must be contiguous).
!> The character arguments are single letters; OpenBLAS reads them through their addresses and
!> takes no hidden lengths.
module optgra_blas
   use, intrinsic :: iso_c_binding, only: c_char, c_double, c_int
   implicit none
   private

   public :: gemm, trmm

   interface
      !> c <- alpha op(a) op(b) + beta c,  op(a) m x k,  op(b) k x n,  op(x) = x or x^T.
      subroutine gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) &
         bind(c, name="scipy_dgemm_")
         import :: c_char, c_double, c_int
         character(kind=c_char), intent(in) :: trans_a, trans_b
         integer(c_int), intent(in) :: m, n, k, lda, ldb, ldc
         real(c_double), intent(in) :: alpha, beta
         real(c_double), intent(in) :: a(lda, *), b(ldb, *)
         real(c_double), intent(inout) :: c(ldc, *)
      end subroutine gemm

      !> b <- alpha op(a) b  (side 'L') with a triangular (uplo 'U' or 'L', diag 'N' or 'U').
      subroutine trmm(side, uplo, trans_a, diag, m, n, alpha, a, lda, b, ldb) bind(c, name="scipy_dtrmm_")
         import :: c_char, c_double, c_int
         character(kind=c_char), intent(in) :: side, uplo, trans_a, diag
         integer(c_int), intent(in) :: m, n, lda, ldb
         real(c_double), intent(in) :: alpha
         real(c_double), intent(in) :: a(lda, *)
         real(c_double), intent(inout) :: b(ldb, *)
      end subroutine trmm
   end interface
end module optgra_blas
