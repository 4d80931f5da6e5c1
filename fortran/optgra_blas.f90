!> The BLAS level-3 kernels of the engine's blocked factorisation, dgemm and dtrmm, called through
!> addresses the caller hands over (ogblas: pyoptgra passes scipy's, from
!> scipy.linalg.cython_blas), or, when none were given, computed here with matmul.
!>
!> Arguments follow the reference BLAS: a matrix is its first element and its leading dimension,
!> so a block of a larger array is passed without a copy.  The character arguments are single
!> letters, read through their addresses, without hidden lengths (the C entry points' convention).
module optgra_blas
   use, intrinsic :: iso_c_binding, only: c_char, c_double, c_int, c_funptr, c_null_funptr, &
                                          c_associated, c_f_procpointer
   use optgra_kinds, only: dp
   implicit none
   private

   public :: blas_kernels, gemm, trmm

   !> Addresses of dgemm and dtrmm (both or neither, see ogblas; null: the built-in products).
   type :: blas_kernels
      type(c_funptr) :: gemm = c_null_funptr
      type(c_funptr) :: trmm = c_null_funptr
   end type blas_kernels

   abstract interface
      subroutine gemm_kernel(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) bind(c)
         import :: c_char, c_double, c_int
         character(kind=c_char), intent(in) :: trans_a, trans_b
         integer(c_int), intent(in) :: m, n, k, lda, ldb, ldc
         real(c_double), intent(in) :: alpha, beta
         real(c_double), intent(in) :: a(lda, *), b(ldb, *)
         real(c_double), intent(inout) :: c(ldc, *)
      end subroutine gemm_kernel

      subroutine trmm_kernel(side, uplo, trans_a, diag, m, n, alpha, a, lda, b, ldb) bind(c)
         import :: c_char, c_double, c_int
         character(kind=c_char), intent(in) :: side, uplo, trans_a, diag
         integer(c_int), intent(in) :: m, n, lda, ldb
         real(c_double), intent(in) :: alpha
         real(c_double), intent(in) :: a(lda, *)
         real(c_double), intent(inout) :: b(ldb, *)
      end subroutine trmm_kernel
   end interface

contains

   !> c <- alpha op(a) op(b) + beta c,  op(a) m x k,  op(b) k x n,  op(x) = x ('N') or x^T ('T');
   !> c is not read when beta = 0.
   subroutine gemm(kernels, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
      type(blas_kernels), intent(in) :: kernels
      character, intent(in) :: trans_a, trans_b
      integer, intent(in) :: m, n, k, lda, ldb, ldc
      real(dp), intent(in) :: alpha, beta
      real(dp), intent(in) :: a(lda, *), b(ldb, *)
      real(dp), intent(inout) :: c(ldc, *)
      procedure(gemm_kernel), pointer :: kernel
      real(dp), allocatable :: op_a(:, :), op_b(:, :)

      if (c_associated(kernels%gemm)) then
         call c_f_procpointer(kernels%gemm, kernel)
         call kernel(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
         return
      end if
      ! the built-in product (no kernels were given)
      if (trans_a == 'T') then
         op_a = transpose(a(1:k, 1:m))
      else
         op_a = a(1:m, 1:k)
      end if
      if (trans_b == 'T') then
         op_b = transpose(b(1:n, 1:k))
      else
         op_b = b(1:k, 1:n)
      end if
      if (beta == 0.0_dp) then
         c(1:m, 1:n) = alpha * matmul(op_a, op_b)
      else
         c(1:m, 1:n) = alpha * matmul(op_a, op_b) + beta * c(1:m, 1:n)
      end if
   end subroutine gemm

   !> b <- alpha op(a) b with a (m x m) triangular: side 'L' only, uplo 'U' or 'L', diag 'N' or
   !> 'U' (unit, the diagonal not read).
   subroutine trmm(kernels, side, uplo, trans_a, diag, m, n, alpha, a, lda, b, ldb)
      type(blas_kernels), intent(in) :: kernels
      character, intent(in) :: side, uplo, trans_a, diag
      integer, intent(in) :: m, n, lda, ldb
      real(dp), intent(in) :: alpha
      real(dp), intent(in) :: a(lda, *)
      real(dp), intent(inout) :: b(ldb, *)
      procedure(trmm_kernel), pointer :: kernel
      real(dp) :: triangle(m, m)
      integer :: i, j

      if (c_associated(kernels%trmm)) then
         call c_f_procpointer(kernels%trmm, kernel)
         call kernel(side, uplo, trans_a, diag, m, n, alpha, a, lda, b, ldb)
         return
      end if
      ! the built-in product, for side = 'L' (the engine's only use)
      do j = 1, m
         do i = 1, m
            if ((uplo == 'U' .and. i <= j) .or. (uplo == 'L' .and. i >= j)) then
               triangle(i, j) = a(i, j)
            else
               triangle(i, j) = 0.0_dp
            end if
         end do
         if (diag == 'U') triangle(j, j) = 1.0_dp
      end do
      if (trans_a == 'T') triangle = transpose(triangle)
      b(1:m, 1:n) = alpha * matmul(triangle, b(1:m, 1:n))
   end subroutine trmm
end module optgra_blas
