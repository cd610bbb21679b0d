<%@ Page Language="C#" %><% Response.Write("Cong dich vu cong"); %>
